// tsunagi devserver: live reload and the build error overlay. The devserver
// adds this script to every HTML page it serves, so pages need no change.
//
// It keeps a WebSocket to /_tsunagi/reload open and obeys its messages:
// "reload" reloads the page; "error" shows the build's output in an overlay,
// and "ok" clears it. When the connection is lost it reconnects, and reloads
// when the devserver it finds is not the one that served the page (it was
// restarted) or has reloaded pages meanwhile (the "hello" version differs).
(function () {
  "use strict";
  if (window.__tsunagiReload) return;
  window.__tsunagiReload = true;
  var me = document.currentScript;
  var served = me ? me.getAttribute("data-v") : null; // version the page was served at
  var url = new URL("/_tsunagi/reload", me && me.src ? me.src : location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  var delay = 100, host = null;

  var css =
    ":host{all:initial}" +
    ".box{position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:24px;" +
    "background:rgba(24,0,0,.92);color:#fff;font:14px/1.4 ui-monospace,Menlo,Consolas,monospace}" +
    "header{display:flex;align-items:center;gap:12px;margin-bottom:12px;color:#ff8080;font-weight:bold}" +
    "button{margin-left:auto;font:inherit;color:#fff;background:#600;border:1px solid #f88;" +
    "border-radius:4px;padding:2px 10px;cursor:pointer}" +
    "pre{margin:0;white-space:pre-wrap;word-break:break-word;color:#ffd6d6}";

  function show(text) {
    if (!host) {
      host = document.createElement("tsunagi-overlay");
      host.id = "__tsunagi_overlay";
      var root = host.attachShadow({ mode: "open" });
      root.innerHTML = "<style>" + css + "</style><div class=box role=alert><header>" +
        "<span>tsunagi devserver: build failed</span>" +
        "<button type=button title=Dismiss>Dismiss ×</button></header><pre></pre></div>";
      root.querySelector("button").onclick = function () { host.remove(); };
    }
    host.shadowRoot.querySelector("pre").textContent = text;
    (document.body || document.documentElement).appendChild(host);
  }
  function clear() { if (host) host.remove(); }

  function connect() {
    var ws = new WebSocket(url.href);
    ws.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      switch (m.type) {
        case "hello":
          delay = 100;
          if (served && m.v !== served) { location.reload(); return; }
          served = m.v;
          if (m.error) show(m.error); else clear();
          break;
        case "reload":
          location.reload();
          break;
        case "error":
          console.error("tsunagi devserver: build failed\n" + m.error);
          show(m.error);
          break;
        case "ok":
          clear();
          break;
      }
    };
    ws.onclose = function () {
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 2000);
    };
  }
  connect();
})();
