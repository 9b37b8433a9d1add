// A Node socket.io 4.8 server with @socket.io/admin-ui's instrument
// (serverId "node", development mode, no auth) on @socket.io/redis-adapter
// 8.3 over ioredis, beside a tsunagi server on the same redis-server. Two
// official clients play the UI: one on the Node server's /admin, one on
// the Go server's (GO_URL). Prints one JSON line: the serverIds of the
// server_stats each received, once each has both, or on timeout.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createAdapter } = require("@socket.io/redis-adapter");
const { instrument } = require("@socket.io/admin-ui");
const Redis = require("ioredis");

const port = Number(process.env.REDIS_PORT);
const pub = new Redis({ port, host: "127.0.0.1" });
const sub = pub.duplicate();
const httpServer = http.createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
instrument(io, { auth: false, mode: "development", serverId: "node" });

const seen = { node: new Set(), go: new Set() };
const done = () => seen.node.has("node") && seen.node.has("go") && seen.go.has("node") && seen.go.has("go");
const report = (code) => {
  console.log(JSON.stringify({ onNode: [...seen.node].sort(), onGo: [...seen.go].sort() }));
  process.exit(code);
};
setTimeout(() => report(1), Number(process.env.DEADLINE_MS || 20000));

httpServer.listen(0, "127.0.0.1", () => {
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  for (const [name, base] of [["node", url], ["go", process.env.GO_URL]]) {
    const admin = connect(base + "/admin", { transports: ["websocket"], reconnection: false, forceNew: true });
    admin.on("server_stats", (s) => {
      seen[name].add(s.serverId);
      if (done()) report(0);
    });
    admin.on("connect_error", (e) => {
      console.error(name, "connect_error:", e.message);
      process.exit(1);
    });
  }
});
