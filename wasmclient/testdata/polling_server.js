// The official socket.io server for the polling tests of wasmclient.
// Usage: TRANSPORTS=polling,websocket [COOKIE=1] node polling_server.js
// Listens on 127.0.0.1 with a port chosen by the OS and prints
// "listening <port>".
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
let lastCookie = "";
const io = new Server(httpServer, {
  transports: (process.env.TRANSPORTS || "polling,websocket").split(","),
  cookie: process.env.COOKIE ? { name: "io", httpOnly: true, path: "/" } : false,
  // The Chromium test's page comes from another origin, with credentials.
  cors: { origin: true, credentials: true },
  pingInterval: Number(process.env.PING_INTERVAL) || 25000,
  pingTimeout: Number(process.env.PING_TIMEOUT) || 20000,
});

// The cookie of the last request of a session (the io cookie, with COOKIE).
io.engine.use((req, res, next) => {
  if (req.url.includes("sid=")) lastCookie = req.headers.cookie || "";
  next();
});

io.on("connection", (socket) => {
  socket.emit("hello", socket.conn.transport.name, socket.handshake.headers["x-token"] || "");
  socket.conn.on("close", (reason) => console.log("conn close " + reason));
  socket.conn.on("upgrade", () => socket.emit("upgraded", socket.conn.transport.name));
  socket.on("transport", (cb) => cb(socket.conn.transport.name));
  socket.on("echo", (...args) => {
    const cb = args.pop();
    cb(...args);
  });
  // An ack the other way: the server asks, the client answers.
  socket.on("ask", (cb) => socket.timeout(10000).emit("question", 20, (err, n) => cb(err ? -1 : n)));
  socket.on("bin", (b, cb) => {
    const rev = Buffer.from(b).reverse();
    socket.emit("bin-back", rev, { name: "x", data: Buffer.from([7, 8]) });
    cb(rev);
  });
  let next = 0;
  let bad = 0;
  socket.on("up", (n) => {
    if (n !== next) bad++;
    next = n + 1;
  });
  socket.on("up-count", (cb) => cb(next, bad));
  // Sends n events "down" 0..n-1; after each 100 it waits for the client
  // to answer a "down-batch", so that they span many round trips.
  socket.on("flood", (n) => {
    let i = 0;
    const step = () => {
      for (let k = 0; k < 100 && i < n; k++) socket.emit("down", i++);
      if (i < n) socket.timeout(10000).emit("down-batch", i, (err) => { if (!err) step(); });
    };
    step();
  });
  socket.on("cookie", (cb) => cb(lastCookie));
  socket.on("drop", () => socket.conn.close());
});

httpServer.listen(0, "127.0.0.1", () => console.log("listening " + httpServer.address().port));
