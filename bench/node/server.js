// The official socket.io 4.8 server that scripts/bench measures tsunagi's
// cmd/benchserver against: the same two events, WebSocket only unless
// -transports says otherwise (scripts/bench's polling phases start it with
// -transports polling,websocket, Socket.IO's own default), defaults
// otherwise (pingInterval 25 s, pingTimeout 20 s, no compression).
//
//   echo        acks its arguments back
//   broadcast   emits bcast with its arguments to every socket, then acks
//
//   NODE_PATH=~/.cache/tsunagi/node/node_modules node bench/node/server.js -addr 127.0.0.1:8126
//   NODE_PATH=… node bench/node/server.js -addr 127.0.0.1:8126 -transports polling,websocket
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
const io = new Server(httpServer, { transports, serveClient: false });

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
});

httpServer.listen(port, host, () => {
  console.error(`node socket.io ${require("socket.io/package.json").version}: listening on ${addr}, transports ${transports.join(",")}`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
