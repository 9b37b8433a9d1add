// The official socket.io server with connection state recovery, for our Go
// client: on "start" it streams "seq" 1..N to room "r" and, in the middle,
// closes the client's transport; the client must come back recovered.
"use strict";
const { createServer } = require("http");
const { Server } = require("socket.io");
const { out } = require("./helpers");

const N = 300;
const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  connectionStateRecovery: { maxDisconnectionDuration: 60000 },
});
let finished = false;
io.on("connection", (socket) => {
  out("connected", { recovered: socket.recovered });
  if (!socket.recovered) socket.join("r");
  socket.on("start", (ack) => {
    ack(N);
    let i = 0;
    const timer = setInterval(() => {
      i++;
      io.to("r").emit("seq", i);
      if (i === 60) socket.conn.close(); // drop the transport mid-stream
      if (i === N) {
        clearInterval(timer);
        finished = true;
      }
    }, 5);
  });
  socket.on("finished", (ack) => {
    const wait = () => (finished ? ack(true) : setTimeout(wait, 10));
    wait();
  });
});
httpServer.listen(0, "127.0.0.1", () => console.log("listening " + httpServer.address().port));
