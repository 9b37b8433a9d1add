// A Node socket.io 4.8 server in a Redis cluster (@socket.io/redis-adapter
// 8.3 createAdapter over ioredis), with one socket.io-client connected to
// it, for interop_test.go. A Go test drives it over stdin and reads its
// stdout, one JSON line each way.
//
// Environment: REDIS_PORT (a redis-server on 127.0.0.1); ADAPTER=sharded
// for createShardedAdapter over the redis package (as its docs show), with
// SUBSCRIPTION_MODE (dynamic, dynamic-private or static); ADAPTER=streams
// for @socket.io/redis-streams-adapter's createAdapter over redis.
//
// stdout: {"port":N} once listening; {"ready":{"uid","client"}} once the client (query who=node) is
// connected and in room "r"; {"client":[event, ...args]} for each event the
// client receives (a Buffer as {"bin":[bytes]}); {"serverSide":[event,
// ...args]} for each server-side event; {"disconnected":reason} when the
// client is disconnected; {"result":{"id","value"}} or {"result":{"id",
// "error"}} for each command.
//
// stdin: {"id", "op", ...} commands: emit {rooms, except, args}, fetch
// {rooms}, join {rooms, target}, leave {rooms, target}, disconnect {target},
// serverSideEmit {args}, serverSideEmitWithAck {args}, emitWithAck {rooms,
// args}, allRooms, serverCount, clientRooms. args may hold {"bin":[bytes]}
// for a Buffer.
"use strict";
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

const port = Number(process.env.REDIS_PORT);
const sharded = process.env.ADAPTER === "sharded";
const streams = process.env.ADAPTER === "streams";
let pub, sub;
if (streams) {
  const { createClient } = require("redis");
  pub = createClient({ url: `redis://127.0.0.1:${port}` });
  sub = pub; // the streams adapter duplicates the clients it needs
} else if (sharded) {
  const { createClient } = require("redis");
  pub = createClient({ url: `redis://127.0.0.1:${port}` });
  sub = pub.duplicate();
} else {
  const { Redis } = require("ioredis");
  const redisOpts = { host: "127.0.0.1", port, maxRetriesPerRequest: 1 };
  pub = new Redis(redisOpts);
  sub = new Redis(redisOpts);
}
for (const c of new Set([pub, sub])) {
  c.on("error", (e) => console.error("redis error:", e.message));
}

const out = (v) => console.log(JSON.stringify(v));
const plain = (a) => {
  if (Buffer.isBuffer(a) || a instanceof ArrayBuffer || ArrayBuffer.isView(a)) {
    return { bin: Array.from(Buffer.from(a)) };
  }
  if (Array.isArray(a)) return a.map(plain);
  if (a && typeof a === "object") {
    return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, plain(v)]));
  }
  return a;
};
const revive = (a) => {
  if (Array.isArray(a)) return a.map(revive);
  if (a && typeof a === "object") {
    if (Array.isArray(a.bin)) return Buffer.from(a.bin);
    return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, revive(v)]));
  }
  return a;
};

async function main() {
if (sharded) await Promise.all([pub.connect(), sub.connect()]);
if (streams) await pub.connect();
const adapter = streams
  ? require("@socket.io/redis-streams-adapter").createAdapter(pub)
  : sharded
  ? createShardedAdapter(pub, sub, { subscriptionMode: process.env.SUBSCRIPTION_MODE || "dynamic" })
  : createAdapter(pub, sub, { requestsTimeout: 3000 });
const httpServer = http.createServer();
// RECOVERY=1 turns connection state recovery on.
const recovery = process.env.RECOVERY ? { connectionStateRecovery: { maxDisconnectionDuration: 60000 } } : {};
io = new Server(httpServer, { adapter, ...recovery });
io.on("connection", (socket) => {
  socket.join("r");
  socket.emit("joined");
});
io.on("ping", (...args) => {
  const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
  out({ serverSide: ["ping", ...plain(args)] });
  if (cb) cb({ from: "node", got: plain(args) });
});

httpServer.listen(0, "127.0.0.1", () => {
  out({ port: httpServer.address().port });
  client = connect(`http://127.0.0.1:${httpServer.address().port}`, {
    transports: ["websocket"],
    reconnection: false,
    query: { who: "node" },
  });
  client.on("joined", () => out({ ready: { uid: io.of("/").adapter.uid, client: client.id } }));
  client.onAny((event, ...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ client: [event, ...plain(args)] });
    if (cb) cb({ node: "ack", bin: Buffer.from([9, 8]) });
  });
  client.on("disconnect", (reason) => out({ disconnected: reason }));
  client.on("connect_error", (e) => {
    console.error("connect_error:", e.message);
    process.exit(1);
  });
});
}
let io, client;
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

async function run(cmd) {
  const target = (c) => {
    let op = io.of("/");
    if (c.rooms && c.rooms.length) op = op.in(c.rooms);
    if (c.except && c.except.length) op = op.except(c.except);
    return op;
  };
  switch (cmd.op) {
    case "emit":
      target(cmd).emit(...revive(cmd.args));
      return "sent";
    case "fetch": {
      const sockets = await target(cmd).fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), query: s.handshake.query, data: s.data }));
    }
    case "join":
      io.in(cmd.target).socketsJoin(cmd.rooms);
      return "sent";
    case "leave":
      io.in(cmd.target).socketsLeave(cmd.rooms);
      return "sent";
    case "disconnect":
      io.in(cmd.target).disconnectSockets(true);
      return "sent";
    case "serverSideEmit":
      io.serverSideEmit(...revive(cmd.args));
      return "sent";
    case "serverSideEmitWithAck":
      return plain(await io.serverSideEmitWithAck(...revive(cmd.args)));
    case "emitWithAck":
      return plain(await target(cmd).timeout(3000).emitWithAck(...revive(cmd.args)));
    case "allRooms":
      return [...(await io.of("/").adapter.allRooms())].sort();
    case "serverCount":
      return await io.of("/").adapter.serverCount();
    case "clientRooms": {
      const s = io.of("/").sockets.get(client.id);
      return s ? [...s.rooms].sort() : null;
    }
  }
  throw new Error("unknown op " + cmd.op);
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  run(cmd).then(
    (value) => out({ result: { id: cmd.id, value } }),
    (e) => out({ result: { id: cmd.id, error: String(e && e.message) } })
  );
});
process.stdin.on("end", () => process.exit(0));
