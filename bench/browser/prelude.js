// Keeps the wasm instances the page makes, for the memory figure: the bytes
// of their linear memories (a Go program's never shrinks).
(function () {
  var all = [];
  var streaming = WebAssembly.instantiateStreaming, plain = WebAssembly.instantiate;
  function keep(r) { all.push(r.instance || r); return r; }
  if (streaming) WebAssembly.instantiateStreaming = function () { return streaming.apply(this, arguments).then(keep); };
  WebAssembly.instantiate = function () { return plain.apply(this, arguments).then(keep); };
  window.__wasmBytes = function () {
    var n = 0;
    all.forEach(function (i) {
      for (var k in i.exports) if (i.exports[k] instanceof WebAssembly.Memory) n += i.exports[k].buffer.byteLength;
    });
    return n;
  };
  // The bytes the page's subresources took on the wire (headers included),
  // and the page's own.
  window.__transfer = function () {
    var r = { page: 0, code: 0 };
    performance.getEntriesByType("navigation").forEach(function (e) { r.page += e.transferSize; });
    performance.getEntriesByType("resource").forEach(function (e) { r.code += e.transferSize; });
    return r;
  };
})();
