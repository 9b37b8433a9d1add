// A Node socket.io 4.8 server joined to Redis by @socket.io/redis-adapter
// 8.3 (createAdapter, ioredis pub/sub clients), with one socket.io-client
// in room "r", for live_test.go.
//
// Environment: REDIS_PORT, the port of a redis-server on 127.0.0.1.
// Prints "ready uid=<adapter uid>" once the client is in room "r", and
// "fromgo <json>" for each "fromgo" event the client receives (a binary
// argument as {"bin":[bytes]}). Reads commands on stdin, one a line:
// "broadcast" runs io.to("r").emit("hello", {a: 1}, Buffer.from([1, 2, 3])).
// Exits when stdin closes.
"use strict";
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Redis } = require("ioredis");

const port = Number(process.env.REDIS_PORT);
const redisOpts = { host: "127.0.0.1", port, maxRetriesPerRequest: 1 };
const pub = new Redis(redisOpts);
const sub = new Redis(redisOpts);
for (const c of [pub, sub]) {
  c.on("error", (e) => console.error("redis error:", e.message));
}

const httpServer = http.createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
io.on("connection", (socket) => {
  socket.join("r");
  socket.emit("joined");
});

const plain = (a) =>
  Buffer.isBuffer(a) || a instanceof ArrayBuffer || ArrayBuffer.isView(a)
    ? { bin: Array.from(Buffer.from(a)) }
    : a;

httpServer.listen(0, "127.0.0.1", () => {
  const client = connect(`http://127.0.0.1:${httpServer.address().port}`, {
    transports: ["websocket"],
    reconnection: false,
  });
  client.on("joined", () => console.log("ready uid=" + io.of("/").adapter.uid));
  client.on("fromgo", (...args) => console.log("fromgo " + JSON.stringify(args.map(plain))));
  client.on("connect_error", (e) => {
    console.error("connect_error:", e.message);
    process.exit(1);
  });
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "broadcast") {
    io.to("r").emit("hello", { a: 1 }, Buffer.from([1, 2, 3]));
    console.log("broadcast sent");
  } else {
    console.error("unknown command:", line);
  }
});
process.stdin.on("end", () => process.exit(0));
