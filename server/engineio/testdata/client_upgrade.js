// The official engine.io-client, default transports (polling, then the
// upgrade to WebSocket), against a Go engineio echo server.
// Usage: URL=http://127.0.0.1:port N=2000 node client_upgrade.js
// Sends N messages (every 10th binary) with at most 20 awaiting their echo,
// checks that the echoes come back once each and in order, then prints
// "done transport=<name> upgradedAt=<echoes received at the upgrade>".
"use strict";
// engine.io-client comes with socket.io-client (scripts/test installs
// that); npm hoists it, else it is under socket.io-client's own modules.
let eio;
try {
  eio = require("engine.io-client");
} catch (e) {
  eio = require(require.resolve("engine.io-client", { paths: [require.resolve("socket.io-client")] }));
}
const { Socket } = eio;

const url = process.env.URL;
const n = Number(process.env.N || 2000);
const timer = setTimeout(() => {
  console.error("timeout: not done after 20s");
  process.exit(1);
}, 20000);

const socket = new Socket(url, { path: "/engine.io/" });
let sent = 0;
let received = 0;
let upgradedAt = -1;

function payload(i) {
  return i % 10 === 0 ? Buffer.from([i & 255, i >> 8]) : "c" + i;
}

function fill() {
  while (sent < n && sent - received < 20) {
    socket.send(payload(sent));
    sent++;
  }
}

socket.on("open", () => {
  console.error("open over", socket.transport.name);
  fill();
});
socket.on("upgrade", (t) => {
  upgradedAt = received;
  console.error("upgrade to", t.name, "after", received, "echoes");
});
socket.on("upgradeError", (err) => {
  console.error("upgradeError:", err && err.message);
  process.exit(1);
});
socket.on("message", (data) => {
  const want = payload(received);
  const ok = typeof want === "string" ? data === want : Buffer.isBuffer(data) ? data.equals(want) : Buffer.from(data).equals(want);
  if (!ok) {
    console.error("echo", received, "is", data, "want", want);
    process.exit(1);
  }
  received++;
  if (received === n) {
    console.log("done transport=" + socket.transport.name + " upgradedAt=" + upgradedAt);
    clearTimeout(timer);
    socket.close();
    setTimeout(() => process.exit(0), 50);
    return;
  }
  fill();
});
socket.on("error", (err) => {
  console.error("error:", err && err.message);
  process.exit(1);
});
socket.on("close", (reason) => {
  if (received !== n) {
    console.error("close before done:", reason, "after", received);
    process.exit(1);
  }
});
