// @socket.io/redis-emitter 5.1.0 with node-redis 4, as its README uses it,
// for emitter_test.go: it sends one of each operation to the cluster on
// REDIS_PORT (127.0.0.1), prints "done" and exits.
//
//   to("r").emit("from node emitter", {n: 1}, Buffer [1, 2])
//   of("/").except("r").emit("not for r")        (nobody in the test gets it)
//   in("r").socketsJoin("joined by node emitter")
//   serverSideEmit("ping", "node emitter")
"use strict";
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const client = createClient({ url: `redis://127.0.0.1:${process.env.REDIS_PORT}` });
client.on("error", (e) => {
  console.error("redis error:", e.message);
  process.exit(1);
});
client.connect().then(async () => {
  const emitter = new Emitter(client);
  emitter.to("r").emit("from node emitter", { n: 1 }, Buffer.from([1, 2]));
  emitter.of("/").except("r").emit("not for r");
  emitter.in("r").socketsJoin("joined by node emitter");
  emitter.serverSideEmit("ping", "node emitter");
  await client.quit();
  console.log("done");
});
