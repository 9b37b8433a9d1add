// The bench calls of pages (a) and (b), on socket.io-client's API: the same
// text runs on tsunagi's facade and on the official socket.io.min.js.
(function () {
  var socket = io({ transports: ["websocket"] });
  socket.on("news", function () {
    if (window.__firstEvent === undefined) window.__firstEvent = performance.now();
  });
  var counter = null;
  socket.on("small", function () { if (counter) counter(); });
  socket.on("big", function () { if (counter) counter(); });
  window.bench = {
    // recv asks for n events of kind ("small" or "big") and resolves when
    // they have all arrived, or at limit ms.
    recv: function (kind, n, limit) {
      return new Promise(function (resolve) {
        var got = 0, t0 = performance.now(), timer;
        function finish() {
          clearTimeout(timer);
          counter = null;
          resolve({ n: got, ms: performance.now() - t0 });
        }
        counter = function () { if (++got === n) finish(); };
        timer = setTimeout(finish, limit);
        socket.emit("flood", kind, n);
      });
    },
    // emit sends n events, then asks the server how many it got.
    emit: function (n, limit) {
      return new Promise(function (resolve) {
        var t0 = performance.now(), i = 0;
        for (; i < n; i++) {
          if ((i & 1023) === 0 && performance.now() - t0 > limit) break;
          socket.emit("sink", i);
        }
        socket.emit("sinkdone", 0, function (got) {
          resolve({ n: got, sent: i, ms: performance.now() - t0 });
        });
      });
    },
    // acks sends n echo requests, inflight at a time.
    acks: function (n, inflight, limit) {
      return new Promise(function (resolve) {
        var t0 = performance.now(), next = 0, got = 0, running = inflight, stop = false;
        var timer = setTimeout(function () { stop = true; }, limit);
        function one() {
          if (stop || next >= n) {
            if (--running === 0) {
              clearTimeout(timer);
              resolve({ n: got, ms: performance.now() - t0 });
            }
            return;
          }
          var i = ++next;
          socket.emit("echo", i, function (v) {
            if (v === i) got++;
            one();
          });
        }
        for (var k = 0; k < inflight; k++) one();
      });
    }
  };
})();
