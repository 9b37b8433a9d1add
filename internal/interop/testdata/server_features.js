// The official socket.io server implementing the feature protocol that the
// interop scenarios exercise; features_test.go holds its Go twin, which must
// behave the same. Usage:
//   [PING_INTERVAL=ms PING_TIMEOUT=ms SERVER_TRANSPORTS=polling,websocket] node server_features.js
// Listens on 127.0.0.1 with a port chosen by the OS and prints
// "listening <port>"; then prints a note ("<tag> <JSON>") for what it sees.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { out } = require("./helpers");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: (process.env.SERVER_TRANSPORTS || "polling,websocket").split(","),
  pingInterval: Number(process.env.PING_INTERVAL) || 25000,
  pingTimeout: Number(process.env.PING_TIMEOUT) || 20000,
});

function common(socket) {
  const nsp = socket.nsp.name;
  socket.emit("whoami", socket.id, socket.handshake.auth, socket.handshake.query.app ?? null);
  socket.on("disconnect", (reason) => out("disconnect " + nsp, reason));
}

io.of("/").use((socket, next) => {
  out("auth /", socket.handshake.auth);
  next();
});

io.of("/").on("connection", (socket) => {
  common(socket);
  socket.on("multi", (...args) => {
    out("multi", args);
    socket.emit("multi-back", ...args);
  });
  socket.on("typed", () =>
    socket.emit("typed-back", 42, "s", { k: [1, 2] }, { hello: "world" }, null, true, 4.5),
  );
  socket.on("noargs", (...args) => {
    out("noargs", args.length);
    socket.emit("noargs-back", args.length);
  });

  socket.on("sum", (a, b, cb) => cb(a + b));
  socket.on("several", (cb) => cb("a", 1, null, { b: true }));
  socket.on("echo", (s, cb) => (s === "fail" ? cb(null, { message: "no thanks" }) : cb(s)));
  socket.on("no-answer", () => {});
  socket.on("ask-me", () =>
    socket.timeout(5000).emit("ask", "question", 7, (err, ...res) => {
      if (err) res = ["error", err.message];
      out("ask", res);
      socket.emit("ask-result", ...res);
    }),
  );
  socket.on("ask-ignored", () =>
    socket.timeout(300).emit("ignored", (err) => socket.emit("ignored-result", !!err)),
  );

  socket.on("upload", (...args) => {
    out("upload", args);
    socket.emit("download", Buffer.from([9, 8, 7]), { name: "back.bin", body: Buffer.from("back") });
  });
  socket.on("bin-echo", (b, cb) => cb(b, b.length));
  socket.on("bin-count", (...args) => {
    const cb = args.pop();
    cb(args.length, args.filter((a) => Buffer.isBuffer(a)).length);
  });
  socket.on("bin-ask-me", () =>
    socket.timeout(5000).emit("bin-ask", Buffer.from([5, 6]), (err, b) => {
      out("bin-ask", err ? err.message : b);
      socket.emit("bin-ask-result", b);
    }),
  );

  socket.on("join", (room, cb) => {
    socket.join(room);
    cb(true);
  });
  socket.on("leave", (room, cb) => {
    socket.leave(room);
    cb(true);
  });
  socket.on("my-rooms", (cb) => cb([...socket.rooms].filter((r) => r !== socket.id).sort()));
  socket.on("shout", (room, msg) => io.to(room).emit("shouted", msg));
  socket.on("shout-others", (room, msg) => socket.to(room).emit("shouted", msg));
  socket.on("marker", (n) => io.emit("marker", n));

  socket.on("kick-me", () => socket.disconnect());
  socket.on("kick-me-hard", () => socket.disconnect(true));
});

io.of("/admin").use((socket, next) => {
  out("auth /admin", socket.handshake.auth);
  next(socket.handshake.auth.role === "admin" ? undefined : new Error("admins only"));
});
io.of("/admin").on("connection", common);

io.of("/guarded").use((socket, next) => {
  const token = socket.handshake.auth.token;
  if (token === "data") {
    const err = new Error("not authorized");
    err.data = { code: 42, hint: "log in" };
    return next(err);
  }
  if (token === "plain") return next(new Error("plain refusal"));
  next();
});
io.of("/guarded").on("connection", common);

httpServer.listen(0, "127.0.0.1", () => console.log("listening " + httpServer.address().port));
