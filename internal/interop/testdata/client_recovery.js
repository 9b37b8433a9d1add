// The official socket.io-client against a server with connection state
// recovery: it drops its transport in the middle of a stream of broadcasts
// and must come back recovered, with every broadcast once, in order.
// Usage: URL=http://127.0.0.1:port [TRANSPORTS=websocket|polling|default] node client_recovery.js
"use strict";
const { io } = require("socket.io-client");
const { out, connected, waitFor, call, until, main, transportOpts } = require("./helpers");

main(async () => {
  const socket = io(process.env.URL, Object.assign({
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
  }, transportOpts()));
  const got = [];
  socket.on("seq", (n) => got.push(n));
  await connected(socket);
  const first = socket.id;
  out("recovered", socket.recovered);
  const total = (await call(socket, "start"))[0];
  await until(() => got.length >= 30); // mid-stream
  socket.io.engine.close(); // the transport drops; the manager reconnects
  await waitFor(socket, "connect", 5000);
  out("recovered", socket.recovered);
  out("same id", socket.id === first);
  await call(socket, "finished"); // acked once every broadcast is sent
  await until(() => got.length >= total);
  const inOrder = got.every((n, i) => n === i + 1);
  out("seq", { count: got.length, inOrder, total });
  socket.disconnect();
});
