// Page (c): the Go program's calls, as promises.
(function () {
  window.bench = {
    recv: function (kind, n, limit) { return new Promise(function (r) { __go.recv(kind, n, limit, r); }); },
    emit: function (n, limit) { return new Promise(function (r) { __go.emit(n, limit, r); }); },
    acks: function (n, inflight, limit) { return new Promise(function (r) { __go.acks(n, inflight, limit, r); }); }
  };
  var go = new Go();
  var url = "/c/gopage.wasm";
  WebAssembly.instantiateStreaming(fetch(url), go.importObject).then(function (r) { go.run(r.instance); },
    function (err) { console.error("gopage:", err); });
})();
