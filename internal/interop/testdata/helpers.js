// Helpers shared by the interop scripts. Every line a script prints on
// stdout is "<tag> <JSON>", with object keys sorted and binary values shown
// as {"bin":"<hex>"}, so that a Go end can print the very same lines.
"use strict";

function show(v) {
  if (Buffer.isBuffer(v)) return { bin: v.toString("hex") };
  if (v instanceof ArrayBuffer) return { bin: Buffer.from(v).toString("hex") };
  if (ArrayBuffer.isView(v)) {
    return { bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
  }
  if (Array.isArray(v)) return v.map(show);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v).sort()) {
      if (v[k] !== undefined) o[k] = show(v[k]);
    }
    return o;
  }
  return v;
}

function out(tag, v) {
  console.log(v === undefined ? tag : tag + " " + JSON.stringify(show(v)));
}

// waitFor resolves with the arguments of the next `event` on emitter.
function waitFor(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms}ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// connected resolves when socket connects and rejects on connect_error.
function connected(socket, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.nsp}: not connected within ${ms}ms`)), ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${socket.nsp}: connect_error: ${err.message}`));
    });
  });
}

// refused resolves with the connect_error of socket and rejects on connect.
function refused(socket, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.nsp}: no connect_error within ${ms}ms`)), ms);
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error(`${socket.nsp}: connected, but a refusal was expected`));
    });
  });
}

// call emits event with an ack callback and resolves with the ack's arguments.
function call(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(res)));
}

// until resolves true as soon as cond() holds, checked every 5 ms, or false
// after ms.
function until(cond, ms = 5000) {
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const check = () => {
      if (cond()) return resolve(true);
      if (Date.now() > end) return resolve(false);
      setTimeout(check, 5);
    };
    check();
  });
}

// main runs fn, prints "done" and exits 0; on an error or after ms it
// prints the reason on stderr and exits 1.
function main(fn, ms = 20000) {
  const timer = setTimeout(() => {
    console.error(`timeout: not done after ${ms}ms`);
    process.exit(1);
  }, ms);
  fn().then(
    () => {
      clearTimeout(timer);
      out("done");
      // Let the last packets and close frames go out first.
      setTimeout(() => process.exit(0), 100);
    },
    (err) => {
      console.error("failed:", err && err.stack ? err.stack : err);
      process.exit(1);
    },
  );
}

// transportOpts are the client options for TRANSPORTS: "websocket" or
// "polling" forces that transport, "default" (or unset: "websocket", for the
// scripts written before polling) leaves socket.io-client on its defaults
// (polling first, then the upgrade).
function transportOpts() {
  const t = process.env.TRANSPORTS || "websocket";
  if (t === "default") return {};
  return { transports: t.split(",") };
}

module.exports = { show, out, waitFor, connected, refused, call, until, main, transportOpts };
