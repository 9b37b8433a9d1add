// tsunagi loader, served at /socket.io/socket.io.js.
//
// It defines io() at once, like the socket.io client script, loads
// wasm_exec.js and client.wasm from the server it came from, and queues what
// the page does with its sockets until the wasm has started; then every
// queued call is replayed, in order, on the real socket.
(function () {
  "use strict";
  if (typeof window === "undefined" || window.io && window.io.tsunagi) return;
  var script = document.currentScript;
  var base = new URL("/", script && script.src ? script.src : location.href);
  // The files it loads. A production build (devserver -build) writes their
  // content-hashed names here, so they may be cached for good.
  var files = {"client.wasm": "client.wasm", "wasm_exec.js": "wasm_exec.js"};
  var real = null;      // globalThis.__tsunagi.io once the wasm has started
  var waiting = [];     // stub sockets created before then

  function Stub(args) {
    var self = this;
    this._args = args;
    this._queue = [];
    this._sock = null;
    // socket.io: the Manager, for its reconnection events.
    this.io = {};
    ["on", "off"].forEach(function (m) {
      self.io[m] = function () {
        var args = Array.prototype.slice.call(arguments);
        if (self._sock) { self._sock.io[m].apply(self._sock.io, args); return self.io; }
        self._queue.push(function (s) { s.io[m].apply(s.io, args); });
        return self.io;
      };
    });
    // socket.io.engine: its transport.name and its "upgrade" event.
    Object.defineProperty(this.io, "engine", {
      get: function () {
        if (self._sock) return self._sock.io.engine;
        var pending = {
          transport: undefined,
          on: function () {
            var args = Array.prototype.slice.call(arguments);
            self._queue.push(function (s) { s.io.engine.on.apply(s.io.engine, args); });
            return pending;
          }
        };
        return pending;
      }
    });
  }
  var methods = ["on", "once", "off", "addEventListener", "removeListener",
    "removeAllListeners", "emit", "send", "onAny", "prependAny", "offAny",
    "onAnyOutgoing", "prependAnyOutgoing", "offAnyOutgoing", "connect",
    "open", "disconnect", "close"];
  methods.forEach(function (m) {
    Stub.prototype[m] = function () {
      var args = Array.prototype.slice.call(arguments);
      if (this._sock) { this._sock[m].apply(this._sock, args); return this; }
      this._queue.push(function (s) { s[m].apply(s, args); });
      return this;
    };
  });
  Stub.prototype.listeners = function (ev) { return this._sock ? this._sock.listeners(ev) : []; };
  Stub.prototype.hasListeners = function (ev) { return this._sock ? this._sock.hasListeners(ev) : false; };
  Stub.prototype.emitWithAck = function () {
    var self = this, args = Array.prototype.slice.call(arguments);
    if (self._sock) return self._sock.emitWithAck.apply(self._sock, args);
    return new Promise(function (resolve, reject) {
      self._queue.push(function (s) { s.emitWithAck.apply(s, args).then(resolve, reject); });
    });
  };
  Stub.prototype.timeout = function (ms) {
    var self = this;
    if (self._sock) return self._sock.timeout(ms);
    return {
      emit: function () {
        var args = Array.prototype.slice.call(arguments);
        self._queue.push(function (s) { var t = s.timeout(ms); t.emit.apply(t, args); });
        return self;
      },
      emitWithAck: function () {
        var args = Array.prototype.slice.call(arguments);
        return new Promise(function (resolve, reject) {
          self._queue.push(function (s) { var t = s.timeout(ms); t.emitWithAck.apply(t, args).then(resolve, reject); });
        });
      }
    };
  };
  ["connected", "disconnected", "active", "id", "recovered"].forEach(function (p) {
    Object.defineProperty(Stub.prototype, p, {
      get: function () {
        if (this._sock) return this._sock[p];
        return p === "disconnected" ? true : p === "id" ? undefined : false;
      }
    });
  });
  Stub.prototype._attach = function () {
    var s = real.apply(null, this._args);
    if (s instanceof Error) throw s;
    this._sock = s;
    this.nsp = s.nsp;
    var q = this._queue;
    this._queue = [];
    q.forEach(function (fn) { fn(s); });
  };

  function io() {
    var stub = new Stub(Array.prototype.slice.call(arguments));
    if (real) stub._attach(); else waiting.push(stub);
    return stub;
  }
  io.connect = io;
  io.tsunagi = true;
  io.protocol = 5;
  window.io = io;

  globalThis.__tsunagiReady = function () {
    real = globalThis.__tsunagi.io;
    var w = waiting;
    waiting = [];
    w.forEach(function (stub) { stub._attach(); });
  };

  function start() {
    var go = new Go();
    var url = new URL(files["client.wasm"], base);
    var run = function (result) { go.run(result.instance); };
    var fallback = function () {
      return fetch(url).then(function (r) { return r.arrayBuffer(); })
        .then(function (b) { return WebAssembly.instantiate(b, go.importObject); }).then(run);
    };
    (WebAssembly.instantiateStreaming
      ? WebAssembly.instantiateStreaming(fetch(url), go.importObject).then(run, fallback)
      : fallback()
    ).catch(function (err) { console.error("tsunagi: could not start client.wasm:", err); });
  }
  if (typeof Go === "function") {
    start();
  } else {
    var s = document.createElement("script");
    s.src = new URL(files["wasm_exec.js"], base).href;
    s.onload = start;
    s.onerror = function () { console.error("tsunagi: could not load " + s.src); };
    (document.head || document.documentElement).appendChild(s);
  }
})();
