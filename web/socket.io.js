// tsunagi loader, served at /socket.io/socket.io.js.
//
// It defines io() at once, like the socket.io client script, and loads
// wasm_exec.js and client.wasm from the server it came from. The client's
// API (socket.io-client 4.8's io, Manager and Socket: listeners, acks and
// their timeouts, flags, buffers, retries) is here, in JavaScript; the
// connections are Go's, in client.wasm (wasmclient/facade_js.go). Values
// cross as JSON text made by this page's JSON.stringify and read by its
// JSON.parse, with binary attachments in a list beside it; until the wasm
// has started, what a socket asks of its connection waits in order.
(function () {
  "use strict";
  if (typeof window === "undefined" || window.io && window.io.tsunagi) return;
  var script = document.currentScript;
  var base = new URL("/", script && script.src ? script.src : location.href);
  // The files it loads. A production build (devserver -build) writes their
  // content-hashed names here, so they may be cached for good.
  var files = {"client.wasm": "client.wasm", "wasm_exec.js": "wasm_exec.js"};
  var bridge = null;    // globalThis.__tsunagi once the wasm has started
  var waiting = [];     // what runs then

  function whenReady(fn) { if (bridge) fn(); else waiting.push(fn); }
  function slice(a, i) { return Array.prototype.slice.call(a, i || 0); }
  function nextTick(fn) { Promise.resolve().then(fn); }

  // What Go tells, as the first argument of a callback (facade_js.go's kind*).
  var CONNECT = 1, CONNECT_ERROR = 2, DISCONNECT = 3, EVENT = 4, ACK = 5,
    OPEN = 10, CLOSE = 11, RECONNECT_ATTEMPT = 12, RECONNECT = 13,
    RECONNECT_ERROR = 14, RECONNECT_FAILED = 15, PING = 16, UPGRADE = 17, ERROR = 18;

  // Emitter is @socket.io/component-emitter's.
  function Emitter() {}
  Emitter.prototype.on = Emitter.prototype.addEventListener = function (event, fn) {
    this._callbacks = this._callbacks || {};
    (this._callbacks["$" + event] = this._callbacks["$" + event] || []).push(fn);
    return this;
  };
  Emitter.prototype.once = function (event, fn) {
    function on() {
      this.off(event, on);
      fn.apply(this, arguments);
    }
    on.fn = fn;
    this.on(event, on);
    return this;
  };
  Emitter.prototype.off = Emitter.prototype.removeListener =
  Emitter.prototype.removeAllListeners = Emitter.prototype.removeEventListener = function (event, fn) {
    this._callbacks = this._callbacks || {};
    if (arguments.length === 0) {
      this._callbacks = {};
      return this;
    }
    var callbacks = this._callbacks["$" + event];
    if (!callbacks) return this;
    if (arguments.length === 1) {
      delete this._callbacks["$" + event];
      return this;
    }
    for (var i = 0; i < callbacks.length; i++) {
      var cb = callbacks[i];
      if (cb === fn || cb.fn === fn) {
        callbacks.splice(i, 1);
        break;
      }
    }
    if (callbacks.length === 0) delete this._callbacks["$" + event];
    return this;
  };
  Emitter.prototype.emit = function (event) {
    this._callbacks = this._callbacks || {};
    var args = slice(arguments, 1), callbacks = this._callbacks["$" + event];
    if (callbacks) {
      callbacks = callbacks.slice(0);
      for (var i = 0; i < callbacks.length; i++) callbacks[i].apply(this, args);
    }
    return this;
  };
  Emitter.prototype.emitReserved = Emitter.prototype.emit;
  Emitter.prototype.listeners = function (event) {
    this._callbacks = this._callbacks || {};
    return this._callbacks["$" + event] || [];
  };
  Emitter.prototype.hasListeners = function (event) { return !!this.listeners(event).length; };

  function inherit(C) {
    C.prototype = Object.create(Emitter.prototype);
    C.prototype.constructor = C;
  }

  // Values to JSON text, with ArrayBuffers, typed arrays, Blobs and Files
  // taken out as binary attachments ({"_placeholder":true,"num":n}, as
  // socket.io-parser writes them). JSON.stringify makes the text: Dates
  // become ISO strings, key order is kept, and a cycle or a BigInt throws to
  // the caller, before anything is sent.
  var hasBlob = typeof Blob === "function";
  function isBinary(v) {
    return v instanceof ArrayBuffer || ArrayBuffer.isView(v) || hasBlob && v instanceof Blob;
  }
  function encode(data) {
    var bufs = null, blobs = false;
    var text = JSON.stringify(data, function (k, v) {
      if (v !== null && typeof v === "object" && isBinary(v)) {
        bufs = bufs || [];
        bufs.push(v);
        if (hasBlob && v instanceof Blob) blobs = true;
        return {_placeholder: true, num: bufs.length - 1};
      }
      return v;
    });
    return {text: text, bufs: bufs, blobs: blobs};
  }
  function bytes(v) {
    return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  function decode(text, bufs) {
    if (!bufs) return JSON.parse(text);
    return JSON.parse(text, function (k, v) {
      if (v !== null && typeof v === "object" && v._placeholder === true) {
        if (typeof v.num === "number" && v.num >= 0 && v.num < bufs.length) return bufs[v.num];
        throw new Error("illegal attachments");
      }
      return v;
    });
  }

  // Socket is socket.io-client's Socket.
  var RESERVED_EVENTS = {connect: 1, connect_error: 1, disconnect: 1, disconnecting: 1, newListener: 1, removeListener: 1};

  function Socket(io, nsp, opts) {
    this.connected = false;
    this.recovered = false;
    this.receiveBuffer = [];
    this.sendBuffer = [];
    this._queue = [];
    this._queueSeq = 0;
    this.ids = 0;
    this.acks = {};
    this.flags = {};
    this.io = io;
    this.nsp = nsp;
    if (opts && opts.auth) this.auth = opts.auth;
    this._opts = Object.assign({}, opts);
    this._active = false;
    this._h = null;          // the Go handle
    this._listening = {};    // events Go hands over with an ack function
    this._anyOn = false;
    this._out = [];          // sends waiting behind a Blob being read
    if (this.io._autoConnect) this.open();
  }
  inherit(Socket);
  Object.defineProperty(Socket.prototype, "disconnected", {get: function () { return !this.connected; }});
  Object.defineProperty(Socket.prototype, "active", {get: function () { return this._active; }});
  Object.defineProperty(Socket.prototype, "volatile", {get: function () { this.flags.volatile = true; return this; }});

  // _go runs fn with the Go handle once the wasm has started.
  Socket.prototype._go = function (fn) {
    var self = this;
    this.io._go(function (mh) {
      self.io._flush(); // what was sent before goes first
      if (!self._h) {
        var h = mh.socket(self.nsp, function () { return self._onGo.apply(self, arguments); });
        if (h instanceof Error) throw h;
        self._h = h;
      }
      fn(self._h);
    });
  };
  Socket.prototype._authJSON = function (data) {
    var t = data === undefined ? undefined : JSON.stringify(data);
    return t === undefined ? "" : t;
  };
  Socket.prototype.connect = function () {
    if (this.connected) return this;
    if (this._active) return this;
    this._active = true;
    var self = this;
    this._go(function (h) {
      if (typeof self.auth == "function") {
        self._authAsked = true; // for this connection: the next "open" does not ask again
        self.auth(function (data) { h.open(self._authJSON(data)); });
      } else {
        h.open(self._authJSON(self.auth));
      }
    });
    return this;
  };
  Socket.prototype.open = function () { return this.connect(); };
  Socket.prototype.send = function () {
    var args = slice(arguments);
    args.unshift("message");
    this.emit.apply(this, args);
    return this;
  };
  Socket.prototype.on = Socket.prototype.addEventListener = function (event, fn) {
    Emitter.prototype.on.call(this, event, fn);
    if (!RESERVED_EVENTS.hasOwnProperty(event) && !this._listening[event]) {
      this._listening[event] = true;
      this._go(function (h) { h.listen(String(event)); });
    }
    return this;
  };
  Socket.prototype.emit = function (ev) {
    if (RESERVED_EVENTS.hasOwnProperty(ev)) {
      throw new Error('"' + ev.toString() + '" is a reserved event name');
    }
    var args = slice(arguments);
    if (this._opts.retries && !this.flags.fromQueue && !this.flags.volatile) {
      this._addToQueue(args);
      return this;
    }
    var flags = this.flags;
    this.flags = {};
    var ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    var packet = {type: 2, data: args, options: {compress: flags.compress !== false}, nsp: this.nsp,
      enc: encode(args), volatile: !!flags.volatile, id: undefined};
    if (ack) {
      packet.id = this.ids++;
      this._registerAckCallback(packet.id, ack, flags);
    }
    if (flags.volatile && !this.connected) {
      // discarded, as socket.io-client does when the transport is not writable
    } else if (this.connected) {
      this.notifyOutgoingListeners(packet);
      this._write(packet);
    } else {
      this.sendBuffer.push(packet);
    }
    return this;
  };
  Socket.prototype._registerAckCallback = function (id, ack, flags) {
    var self = this;
    var timeout = flags.timeout !== undefined && flags.timeout !== null ? flags.timeout : this._opts.ackTimeout;
    if (timeout === undefined) {
      this.acks[id] = ack;
      return;
    }
    var timer = setTimeout(function () {
      delete self.acks[id];
      for (var i = 0; i < self.sendBuffer.length; i++) {
        if (self.sendBuffer[i].id === id) self.sendBuffer.splice(i, 1);
      }
      self._forget(id);
      ack.call(self, new Error("operation has timed out"));
    }, timeout);
    var fn = function () {
      clearTimeout(timer);
      ack.apply(self, arguments);
    };
    fn.withError = true;
    this.acks[id] = fn;
  };
  Socket.prototype.emitWithAck = function () {
    var self = this, args = slice(arguments);
    return new Promise(function (resolve, reject) {
      var fn = function (arg1, arg2) { return arg1 ? reject(arg1) : resolve(arg2); };
      fn.withError = true;
      args.push(fn);
      self.emit.apply(self, args);
    });
  };
  Socket.prototype._addToQueue = function (args) {
    var self = this, ack;
    if (typeof args[args.length - 1] === "function") ack = args.pop();
    var packet = {id: this._queueSeq++, tryCount: 0, pending: false, args: args,
      flags: Object.assign({fromQueue: true}, this.flags)};
    args.push(function (err) {
      var responseArgs = slice(arguments, 1);
      if (err !== null) {
        if (packet.tryCount > self._opts.retries) {
          self._queue.shift();
          if (ack) ack(err);
        }
      } else {
        self._queue.shift();
        if (ack) ack.apply(null, [null].concat(responseArgs));
      }
      packet.pending = false;
      return self._drainQueue();
    });
    this._queue.push(packet);
    this._drainQueue();
  };
  Socket.prototype._drainQueue = function (force) {
    if (!this.connected || this._queue.length === 0) return;
    var packet = this._queue[0];
    if (packet.pending && !force) return;
    packet.pending = true;
    packet.tryCount++;
    this.flags = packet.flags;
    this.emit.apply(this, packet.args);
  };
  // _write hands an encoded packet to Go; behind a Blob being read, it
  // waits its turn, so events leave in the order they were emitted.
  Socket.prototype._write = function (packet) {
    if (packet.enc.blobs || this._out.length) {
      this._out.push(packet);
      if (this._out.length === 1) this._pump();
      return;
    }
    this._send(packet);
  };
  Socket.prototype._send = function (packet) {
    var self = this;
    if (this._h) this.io._queue(this._h.n, packet);
    else this._go(function (h) { self.io._queue(h.n, packet); });
  };
  Socket.prototype._forget = function (id) {
    if (!this._h) return;
    this.io._flush();
    this._h.forget(id);
  };
  Socket.prototype._pump = function () {
    var self = this, packet = this._out[0];
    if (!packet) return;
    Promise.all(packet.enc.bufs ? packet.enc.bufs.map(function (b) {
      return hasBlob && b instanceof Blob ? b.arrayBuffer() : b;
    }) : []).then(function (bs) {
      if (packet.enc.bufs) packet.enc.bufs = bs;
      self._send(packet);
    }, function (err) {
      console.error("tsunagi: could not read a Blob, event dropped:", err);
    }).then(function () {
      self._out.shift();
      self._pump();
    });
  };
  Socket.prototype._onGo = function (kind, a, b, c, d) {
    switch (kind) {
      case CONNECT: return this.onconnect(a, b, c);
      case CONNECT_ERROR: {
        var err = new Error(a);
        if (d) {
          this._active = false;
          err.data = b === undefined ? undefined : JSON.parse(b);
        } else {
          err.type = "TransportError";
          err.description = c;
          err.context = undefined;
        }
        if (!this.connected) this.emitReserved("connect_error", err);
        return;
      }
      case DISCONNECT:
        if (a === "io server disconnect") this._active = false;
        if (this.connected) this.onclose(a);
        return;
      case EVENT: return this.onevent(decode(a, b), c);
      case ACK: return this.onack(a, decode(b, c));
    }
  };
  Socket.prototype.onclose = function (reason, description) {
    this.connected = false;
    delete this.id;
    this.emitReserved("disconnect", reason, description);
    this._clearAcks();
  };
  Socket.prototype._clearAcks = function () {
    var self = this;
    Object.keys(this.acks).forEach(function (id) {
      var isBuffered = self.sendBuffer.some(function (p) { return String(p.id) === id; });
      if (!isBuffered) {
        var ack = self.acks[id];
        delete self.acks[id];
        self._forget(Number(id));
        if (ack.withError) ack.call(self, new Error("socket has been disconnected"));
      }
    });
  };
  Socket.prototype.onevent = function (args, reply) {
    if (reply >= 0) args.push(this.ack(reply));
    if (this.connected) this.emitEvent(args);
    else this.receiveBuffer.push(Object.freeze(args));
  };
  Socket.prototype.emitEvent = function (args) {
    if (this._anyListeners && this._anyListeners.length) {
      var listeners = this._anyListeners.slice();
      for (var i = 0; i < listeners.length; i++) listeners[i].apply(this, args);
    }
    Emitter.prototype.emit.apply(this, args);
    var ev = args[0];
    if (this._listening[ev] && !this.hasListeners(ev)) {
      // Nobody listens any more: Go stops handing it over with an ack.
      delete this._listening[ev];
      if (this._h) this._h.unlisten(String(ev));
    }
  };
  Socket.prototype.ack = function (token) {
    var self = this, sent = false;
    return function () {
      if (sent) return;
      sent = true;
      self._write({enc: encode(slice(arguments)), reply: token});
    };
  };
  Socket.prototype.onack = function (id, args) {
    var ack = this.acks[id];
    if (typeof ack !== "function") return;
    delete this.acks[id];
    if (ack.withError) args.unshift(null);
    ack.apply(this, args);
  };
  Socket.prototype.onconnect = function (id, recovered, session) {
    this.id = id;
    // socket.io-client's pid && this._pid === pid: undefined without recovery
    this.recovered = session ? !!recovered : undefined;
    this.connected = true;
    this.emitBuffered();
    this._drainQueue(true);
    this.emitReserved("connect");
  };
  Socket.prototype.emitBuffered = function () {
    var self = this;
    this.receiveBuffer.forEach(function (args) { self.emitEvent(args.slice()); });
    this.receiveBuffer = [];
    this.sendBuffer.forEach(function (packet) {
      self.notifyOutgoingListeners(packet);
      self._write(packet);
    });
    this.sendBuffer = [];
  };
  Socket.prototype.disconnect = function () {
    this._active = false;
    this._go(function (h) { h.close(); });
    if (this.connected) this.onclose("io client disconnect");
    return this;
  };
  Socket.prototype.close = function () { return this.disconnect(); };
  Socket.prototype.compress = function (compress) {
    // A browser's WebSocket has no per-message compression switch:
    // socket.io-client's flag does nothing there either.
    this.flags.compress = compress;
    return this;
  };
  Socket.prototype.timeout = function (timeout) {
    this.flags.timeout = timeout;
    return this;
  };
  Socket.prototype._anyChanged = function () {
    var on = !!(this._anyListeners && this._anyListeners.length);
    if (on !== this._anyOn) {
      this._anyOn = on;
      this._go(function (h) { h.any(on); });
    }
  };
  Socket.prototype.onAny = function (listener) {
    this._anyListeners = this._anyListeners || [];
    this._anyListeners.push(listener);
    this._anyChanged();
    return this;
  };
  Socket.prototype.prependAny = function (listener) {
    this._anyListeners = this._anyListeners || [];
    this._anyListeners.unshift(listener);
    this._anyChanged();
    return this;
  };
  function offList(list, listener) {
    if (!list) return list;
    if (!listener) return [];
    for (var i = 0; i < list.length; i++) {
      if (listener === list[i]) {
        list.splice(i, 1);
        break;
      }
    }
    return list;
  }
  Socket.prototype.offAny = function (listener) {
    this._anyListeners = offList(this._anyListeners, listener);
    this._anyChanged();
    return this;
  };
  Socket.prototype.listenersAny = function () { return this._anyListeners || []; };
  Socket.prototype.onAnyOutgoing = function (listener) {
    this._anyOutgoingListeners = this._anyOutgoingListeners || [];
    this._anyOutgoingListeners.push(listener);
    return this;
  };
  Socket.prototype.prependAnyOutgoing = function (listener) {
    this._anyOutgoingListeners = this._anyOutgoingListeners || [];
    this._anyOutgoingListeners.unshift(listener);
    return this;
  };
  Socket.prototype.offAnyOutgoing = function (listener) {
    this._anyOutgoingListeners = offList(this._anyOutgoingListeners, listener);
    return this;
  };
  Socket.prototype.listenersAnyOutgoing = function () { return this._anyOutgoingListeners || []; };
  Socket.prototype.notifyOutgoingListeners = function (packet) {
    if (this._anyOutgoingListeners && this._anyOutgoingListeners.length) {
      var listeners = this._anyOutgoingListeners.slice();
      for (var i = 0; i < listeners.length; i++) listeners[i].apply(this, packet.data);
    }
  };

  // Engine is the part of engine.io-client's Socket that pages use:
  // transport.name, id, readyState, and the "upgrade" and "close" events.
  function Engine(io) {
    this._io = io;
    this.id = undefined;
    this.readyState = "closed";
    this.upgraded = false;
    this.binaryType = "arraybuffer";
    this.transport = {name: undefined};
  }
  inherit(Engine);
  Engine.prototype.close = function () {
    var io = this._io;
    io._go(function (mh) { io._flush(); mh.close(); });
    return this;
  };

  // Manager is socket.io-client's Manager.
  function Manager(uri, opts) {
    this.nsps = {};
    this.subs = [];
    if (uri && typeof uri === "object") {
      opts = uri;
      uri = undefined;
    }
    opts = opts || {};
    opts.path = opts.path || "/socket.io";
    this.opts = opts;
    this._mh = null;
    this._batch = null;
    this.reconnection(opts.reconnection !== false);
    this.reconnectionAttempts(opts.reconnectionAttempts || Infinity);
    this.reconnectionDelay(opts.reconnectionDelay || 1000);
    this.reconnectionDelayMax(opts.reconnectionDelayMax || 5000);
    this.randomizationFactor(opts.randomizationFactor !== undefined && opts.randomizationFactor !== null ? opts.randomizationFactor : 0.5);
    this.timeout(opts.timeout == null ? 20000 : opts.timeout);
    this._readyState = "closed";
    this._reconnecting = false;
    this._openCallbacks = [];
    this.uri = uri;
    this.engine = new Engine(this);
    this._autoConnect = opts.autoConnect !== false;
    if (this._autoConnect) this.open();
  }
  inherit(Manager);
  function setter(name, fn) {
    Manager.prototype[name] = function (v) {
      if (fn ? !arguments.length : v === undefined) return this["_" + name];
      this["_" + name] = fn ? fn(v) : v;
      this._changed();
      return this;
    };
  }
  setter("reconnection", function (v) { return !!v; });
  setter("reconnectionAttempts");
  setter("reconnectionDelay");
  setter("reconnectionDelayMax");
  setter("randomizationFactor");
  setter("timeout", function (v) { return v; });
  // _options is what Go needs, as JSON: the reconnection settings as the
  // setters left them, the rest from opts.
  Manager.prototype._options = function () {
    var o = this.opts, query = o.query;
    if (typeof query === "string") {
      var q = {};
      new URLSearchParams(query).forEach(function (v, k) { q[k] = v; });
      query = q;
    }
    var strings = function (m) {
      if (!m || typeof m !== "object") return undefined;
      var out = {};
      Object.keys(m).forEach(function (k) { out[k] = String(m[k]); });
      return out;
    };
    var finite = function (n) { return typeof n === "number" && isFinite(n) ? n : null; };
    return JSON.stringify({
      path: String(o.path).replace(/\/$/, "") + (o.addTrailingSlash === false ? "" : "/"),
      query: strings(query),
      transports: Array.isArray(o.transports) ? o.transports.map(function (t) {
        return typeof t === "function" ? t.name && t.name.toLowerCase() : String(t);
      }) : undefined,
      upgrade: o.upgrade !== false,
      rememberUpgrade: !!o.rememberUpgrade,
      withCredentials: !!o.withCredentials,
      extraHeaders: strings(o.extraHeaders),
      reconnection: this._reconnection,
      reconnectionAttempts: finite(this._reconnectionAttempts),
      reconnectionDelay: Number(this._reconnectionDelay) || 0,
      reconnectionDelayMax: Number(this._reconnectionDelayMax) || 0,
      randomizationFactor: Number(this._randomizationFactor) || 0,
      timeout: this._timeout === false ? null : Number(this._timeout) || 0
    });
  };
  // _queue gathers the packets the sockets write until the page's
  // microtasks run, then hands them to Go in one call (facade_js.go's
  // sendBatch): a header of five numbers per packet, then each packet's
  // JSON text on a line of its own.
  Manager.prototype._queue = function (n, packet) {
    var b = this._batch, self = this, bufs = packet.enc.bufs;
    if (!b) {
      b = this._batch = {head: [], texts: [], bufs: []};
      nextTick(function () { self._flush(); });
    }
    b.head.push(n, packet.volatile ? 1 : 0, packet.id === undefined ? -1 : packet.id,
      packet.reply === undefined ? -1 : packet.reply, bufs ? bufs.length : 0);
    b.texts.push(packet.enc.text);
    // a copy: the page may change its buffer after emit, as a WebSocket's
    // send copies at once
    if (bufs) for (var i = 0; i < bufs.length; i++) b.bufs.push(bytes(bufs[i]).slice());
  };
  Manager.prototype._flush = function () {
    var b = this._batch;
    if (!b) return;
    this._batch = null;
    var err = this._mh.send(b.head.join(" ") + "\n" + b.texts.join("\n"), b.bufs.length ? b.bufs : null);
    if (err instanceof Error) console.error("tsunagi:", err);
  };
  Manager.prototype._changed = function () {
    if (this._mh) this._mh.set(this._options());
  };
  // _go runs fn with the Go handle of this manager once the wasm has started.
  Manager.prototype._go = function (fn) {
    var self = this;
    whenReady(function () {
      if (!self._mh) {
        var mh = bridge.manager(self.uri === undefined ? location.href : String(self.uri), self._options(),
          function () { return self._onGo.apply(self, arguments); });
        if (mh instanceof Error) throw mh;
        self._mh = mh;
      }
      fn(self._mh);
    });
  };
  Manager.prototype._onGo = function (kind, a, b) {
    var self = this, err;
    switch (kind) {
      case OPEN:
        this._readyState = "open";
        this._reconnecting = false;
        this.engine.readyState = "open";
        this.engine.id = b;
        this.engine.transport = {name: a};
        this.engine.upgraded = false;
        // An auth function is asked again for each connection, before
        // the sockets send CONNECT.
        Object.keys(this.nsps).forEach(function (nsp) {
          var s = self.nsps[nsp];
          if (s._authAsked) {
            s._authAsked = false;
          } else if (s._active && typeof s.auth === "function" && s._h) {
            s.auth(function (data) { s._h.auth(s._authJSON(data)); });
          }
        });
        this.engine.emitReserved("open");
        this.emitReserved("open");
        var cbs = this._openCallbacks;
        this._openCallbacks = [];
        cbs.forEach(function (fn) { fn(); });
        return;
      case CLOSE:
        // socket.io-client's name for a close that the client asked for
        if (a === "io client disconnect") a = "forced close";
        this._readyState = "closed";
        this.engine.readyState = "closed";
        this._reconnecting = this._reconnection && a !== "forced close" && a !== "io server disconnect";
        this.engine.emitReserved("close", a);
        this.emitReserved("close", a);
        return;
      case RECONNECT_ATTEMPT: return this.emitReserved("reconnect_attempt", a);
      case RECONNECT: return this.emitReserved("reconnect", a);
      case RECONNECT_ERROR: return this.emitReserved("reconnect_error", transportError(a, b));
      case RECONNECT_FAILED:
        this._reconnecting = false;
        return this.emitReserved("reconnect_failed");
      case PING: return this.emitReserved("ping");
      case UPGRADE:
        this.engine.transport = {name: a};
        this.engine.upgraded = true;
        this.engine.emitReserved("upgrade", this.engine.transport);
        return;
      case ERROR:
        err = transportError(a, b);
        if (this._readyState !== "open") this._readyState = "closed";
        this.emitReserved("error", err);
        var fns = this._openCallbacks;
        this._openCallbacks = [];
        fns.forEach(function (fn) { fn(err); });
        return;
    }
  };
  function transportError(message, description) {
    var err = new Error(message);
    if (message !== "timeout") {
      err.type = "TransportError";
      err.description = description;
      err.context = undefined;
    }
    return err;
  }
  // open (connect) connects the sockets of this manager that are active;
  // fn is called on the next open, or with the error of the next failure.
  Manager.prototype.open = Manager.prototype.connect = function (fn) {
    if (fn) {
      if (this._readyState === "open") nextTick(fn);
      else this._openCallbacks.push(fn);
    }
    if (~this._readyState.indexOf("open")) return this;
    this._readyState = "opening";
    this.engine.readyState = "opening";
    return this;
  };
  // _destroy is called by a socket that disconnected: Go closes the
  // connection itself once no socket of it is active.
  Manager.prototype._destroy = function () {};
  // _close (disconnect) closes the connection and stops reconnecting.
  Manager.prototype._close = Manager.prototype.disconnect = function () {
    var self = this;
    this._reconnecting = false;
    this._go(function (mh) { self._flush(); mh.close(); });
  };
  Manager.prototype.socket = function (nsp, opts) {
    var socket = this.nsps[nsp];
    if (!socket) {
      socket = new Socket(this, nsp, opts);
      this.nsps[nsp] = socket;
    } else if (this._autoConnect && !socket.active) {
      socket.connect();
    }
    return socket;
  };

  // url is socket.io-client's: the page's location fills in what is missing.
  function parseURL(uri, path) {
    var loc = location;
    if (uri == null) uri = loc.protocol + "//" + loc.host;
    if (typeof uri === "string") {
      if (uri.charAt(0) === "/") uri = uri.charAt(1) === "/" ? loc.protocol + uri : loc.host + uri;
      if (!/^(https?|wss?):\/\//.test(uri)) uri = loc.protocol + "//" + uri;
    }
    var u = new URL(uri);
    var port = u.port || (/^(https|wss):$/.test(u.protocol) ? "443" : "80");
    var host = u.hostname.indexOf(":") !== -1 ? "[" + u.hostname.replace(/^\[|\]$/g, "") + "]" : u.hostname;
    return {
      source: uri,
      id: u.protocol + "//" + host + ":" + port + path,
      path: u.pathname || "/",
      query: u.search.replace(/^\?/, "")
    };
  }

  var cache = {};
  function lookup(uri, opts) {
    if (typeof uri === "object") {
      opts = uri;
      uri = undefined;
    }
    opts = opts || {};
    var parsed = parseURL(uri, opts.path || "/socket.io");
    var sameNamespace = cache[parsed.id] && parsed.path in cache[parsed.id].nsps;
    var newConnection = opts.forceNew || opts["force new connection"] || opts.multiplex === false || sameNamespace;
    var io;
    if (newConnection) {
      io = new Manager(parsed.source, opts);
    } else {
      if (!cache[parsed.id]) cache[parsed.id] = new Manager(parsed.source, opts);
      io = cache[parsed.id];
    }
    if (parsed.query && !opts.query) opts.query = parsed.query;
    return io.socket(parsed.path, opts);
  }
  Object.assign(lookup, {Manager: Manager, Socket: Socket, io: lookup, connect: lookup, protocol: 5, tsunagi: true});
  window.io = lookup;

  globalThis.__tsunagiReady = function () {
    bridge = globalThis.__tsunagi;
    var w = waiting;
    waiting = [];
    w.forEach(function (fn) {
      try { fn(); } catch (e) { console.error("tsunagi:", e); }
    });
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
