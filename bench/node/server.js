// The official socket.io 4.8 server that scripts/bench measures tsunagi's
// cmd/benchserver against: the same two events, WebSocket only unless
// -transports says otherwise (scripts/bench's polling phases start it with
// -transports polling,websocket, Socket.IO's own default), defaults
// otherwise (pingInterval 25 s, pingTimeout 20 s, no compression).
//
//   echo        acks its arguments back
//   broadcast   emits bcast with its arguments to every socket, then acks
//   fetch       fetchSockets over the whole cluster; acks with the count
//
// With REDIS_URL set (redis://HOST:PORT) it joins a cluster with
// @socket.io/redis-adapter's createAdapter over two ioredis connections
// (publisher and subscriber), as the adapter's README shows. REDIS_MODE
// sharded uses createShardedAdapter, and streams
// @socket.io/redis-streams-adapter, both over node-redis, as their READMEs
// show.
//
//   NODE_PATH=~/.cache/tsunagi/node/node_modules node bench/node/server.js -addr 127.0.0.1:8126
//   NODE_PATH=… node bench/node/server.js -addr 127.0.0.1:8126 -transports polling,websocket
//   REDIS_URL=redis://127.0.0.1:6379 NODE_PATH=… node bench/node/server.js -addr 127.0.0.1:8126
"use strict";

const http = require("http");
const { Server } = require("socket.io");

let addr = "127.0.0.1:8126";
let transports = ["websocket"];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === "-addr" || process.argv[i] === "--addr") addr = process.argv[++i];
  else if (process.argv[i] === "-transports" || process.argv[i] === "--transports") transports = process.argv[++i].split(",");
}
const colon = addr.lastIndexOf(":");
const host = addr.slice(0, colon);
const port = Number(addr.slice(colon + 1));

const httpServer = http.createServer();
const opts = { transports, serveClient: false };
let redisClients = [];
const redisMode = process.env.REDIS_MODE || "classic";

async function main() {
if (process.env.REDIS_URL && redisMode === "classic") {
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { Redis } = require("ioredis");
  const pub = new Redis(process.env.REDIS_URL);
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => console.error("redis error:", e.message));
  redisClients = [pub, sub];
  opts.adapter = createAdapter(pub, sub);
} else if (process.env.REDIS_URL) {
  const { createClient } = require("redis");
  const pub = createClient({ url: process.env.REDIS_URL });
  pub.on("error", (e) => console.error("redis error:", e.message));
  if (redisMode === "sharded") {
    const sub = pub.duplicate();
    sub.on("error", (e) => console.error("redis error:", e.message));
    await Promise.all([pub.connect(), sub.connect()]);
    redisClients = [pub, sub];
    opts.adapter = require("@socket.io/redis-adapter").createShardedAdapter(pub, sub);
  } else if (redisMode === "streams") {
    await pub.connect();
    redisClients = [pub];
    opts.adapter = require("@socket.io/redis-streams-adapter").createAdapter(pub);
  } else {
    throw new Error(`REDIS_MODE ${redisMode}: want classic, sharded or streams`);
  }
}
const io = new Server(httpServer, opts);

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("broadcast", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    io.emit("bcast", ...args);
    if (ack) ack();
  });
  socket.on("fetch", async (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    try {
      const sockets = await io.fetchSockets();
      if (ack) ack(sockets.length);
    } catch (e) {
      console.error("fetchSockets:", e.message);
    }
  });
});

httpServer.listen(port, host, () => {
  const pkg = redisMode === "streams" ? "@socket.io/redis-streams-adapter" : "@socket.io/redis-adapter";
  const cluster = process.env.REDIS_URL
    ? `, ${pkg} ${require(pkg + "/package.json").version} (${redisMode}) over ${process.env.REDIS_URL}`
    : "";
  console.error(`node socket.io ${require("socket.io/package.json").version}: listening on ${addr}, transports ${transports.join(",")}${cluster}`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    io.close();
    for (const c of redisClients) c.disconnect();
    process.exit(0);
  });
}
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
