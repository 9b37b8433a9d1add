// The official socket.io-client against a tsunagi server.
// Usage: URL=http://127.0.0.1:port [TRANSPORTS=websocket|polling|default] node client_basic.js
// Prints "news <json>" and "ack <json of the ack's arguments>" on stdout,
// exits 0 when done, 1 on connect_error or after 20 s.
"use strict";
const { io } = require("socket.io-client");
const { transportOpts } = require("./helpers");

const url = process.env.URL;
if (!url) {
  console.error("URL is not set");
  process.exit(1);
}

const timer = setTimeout(() => {
  console.error("timeout: not done after 20s");
  process.exit(1);
}, 20000);

const socket = io(url, Object.assign({ reconnection: false }, transportOpts()));

socket.on("connect_error", (err) => {
  console.error("connect_error:", err && err.message);
  process.exit(1);
});

socket.on("connect", () => {
  console.error("connected, id", socket.id);
});

socket.on("news", (data) => {
  console.log("news " + JSON.stringify(data));
  socket.emit("my other event", { my: "data" });
  socket.emit("echo", "hi", (...args) => {
    console.log("ack " + JSON.stringify(args));
    clearTimeout(timer);
    socket.disconnect();
    // Let the DISCONNECT packet and the close frame go out first.
    setTimeout(() => process.exit(0), 100);
  });
});
