// The official socket.io-client running one scenario against a server that
// implements the feature protocol (server_features.js, or its Go twin in
// features_test.go). Usage:
//   URL=http://127.0.0.1:port SCENARIO=acks [TRANSPORTS=websocket|polling|default] node client_features.js
// Prints the scenario's transcript (see helpers.js), then "done".
"use strict";
const { io, Manager } = require("socket.io-client");
const { out, waitFor, connected, refused, call, until, main, transportOpts } = require("./helpers");

const URL = process.env.URL;
const SCENARIO = process.env.SCENARIO;

// Each io() call gets its own connection unless a scenario shares a Manager.
const opts = (extra) =>
  Object.assign({ reconnection: false, forceNew: true }, transportOpts(), extra);

const scenarios = {
  // Auth payloads, the handshake query, two namespaces multiplexed on one
  // connection, a namespace middleware's refusal, an unknown namespace.
  async auth_namespaces() {
    const m = new Manager(URL, Object.assign({ reconnection: false, query: { app: "demo" } }, transportOpts()));
    const main = m.socket("/", { auth: { token: "abc" } });
    const admin = m.socket("/admin", { auth: { role: "admin" } });
    const who = waitFor(main, "whoami");
    const whoAdmin = waitFor(admin, "whoami");
    await Promise.all([connected(main), connected(admin)]);
    const [id, auth, query] = await who;
    out("main", { auth, idMatches: id === main.id, query });
    const [idAdmin, authAdmin] = await whoAdmin;
    out("admin", { auth: authAdmin, idMatches: idAdmin === admin.id });
    if (main.id === admin.id) throw new Error("two namespaces got the same socket id");

    const guest = io(URL + "/admin", opts({ auth: { role: "guest" } }));
    out("guest", (await refused(guest)).message);
    const nope = io(URL + "/nope", opts());
    out("nope", (await refused(nope)).message);
    for (const s of [main, admin, guest, nope]) s.disconnect();
  },

  // Events with several arguments, both ways.
  async events() {
    const s = io(URL, opts());
    await connected(s);
    const back = waitFor(s, "multi-back");
    s.emit("multi", 1, "two", { three: [3] }, null, true, 4.5, "héllo 👋");
    out("multi-back", await back);
    const typed = waitFor(s, "typed-back");
    s.emit("typed");
    out("typed-back", await typed);
    const none = waitFor(s, "noargs-back");
    s.emit("noargs");
    out("noargs-back", await none);
    s.disconnect();
  },

  // Acks both ways, with several arguments, errors and timeouts.
  async acks() {
    const s = io(URL, opts());
    s.on("ask", (q, n, cb) => cb("answer:" + q, n * 2));
    s.on("ignored", () => {});
    await connected(s);
    out("sum", await call(s, "sum", 40, 2));
    out("several", await call(s, "several"));
    out("echo", await s.emitWithAck("echo", "hi"));
    out("echo-fail", await call(s, "echo", "fail"));
    const asked = waitFor(s, "ask-result");
    s.emit("ask-me");
    out("ask-result", await asked);
    const ignored = waitFor(s, "ignored-result");
    s.emit("ask-ignored");
    out("ignored-result", await ignored);
    const err = await new Promise((resolve) => s.timeout(200).emit("no-answer", (e) => resolve(e)));
    out("client-timeout", err instanceof Error && err.message === "operation has timed out");
    s.disconnect();
  },

  // Binary attachments both ways, in events and in acks.
  async binary() {
    const s = io(URL, opts());
    s.on("bin-ask", (b, cb) => cb(Buffer.concat([b, Buffer.from([7])])));
    await connected(s);
    const down = waitFor(s, "download");
    s.emit("upload", Buffer.from([0, 1, 2, 255]), { name: "a.bin", body: Buffer.from("hello") });
    out("download", await down);
    out("bin-echo", await call(s, "bin-echo", Buffer.from([1, 2, 3])));
    const asked = waitFor(s, "bin-ask-result");
    s.emit("bin-ask-me");
    out("bin-ask-result", await asked);
    out("bin-echo-empty", await call(s, "bin-echo", Buffer.alloc(0)));
    const big = Buffer.alloc(200000, 0xab);
    const [bigBack, bigLen] = await call(s, "bin-echo", big);
    out("bin-echo-big", [Buffer.isBuffer(bigBack) && bigBack.equals(big), bigLen]);
    const ten = Array.from({ length: 10 }, (_, i) => Buffer.from([i]));
    out("bin-count", await call(s, "bin-count", ...ten));
    s.disconnect();
  },

  // Rooms: the server joins sockets to rooms and broadcasts to them.
  async rooms() {
    const socks = { A: io(URL, opts()), B: io(URL, opts()), C: io(URL, opts()) };
    const log = { A: [], B: [], C: [] };
    for (const [name, s] of Object.entries(socks)) {
      s.on("shouted", (m) => log[name].push("shouted:" + m));
      s.on("marker", (n) => log[name].push("marker:" + n));
    }
    await Promise.all(Object.values(socks).map((s) => connected(s)));
    const { A, B } = socks;
    await A.emitWithAck("join", "r1");
    await B.emitWithAck("join", "r1");
    let markers = Object.values(socks).map((s) => waitFor(s, "marker"));
    A.emit("shout", "r1", "hello");
    A.emit("shout-others", "r1", "psst");
    A.emit("marker", 1);
    await Promise.all(markers);
    await B.emitWithAck("leave", "r1");
    out("rooms-of-a", await A.emitWithAck("my-rooms"));
    out("rooms-of-b", await B.emitWithAck("my-rooms"));
    markers = Object.values(socks).map((s) => waitFor(s, "marker"));
    A.emit("shout", "r1", "again");
    A.emit("marker", 2);
    await Promise.all(markers);
    for (const name of Object.keys(log)) out(name, log[name]);
    for (const s of Object.values(socks)) s.disconnect();
  },

  // connect_error from a middleware: message and data; no reconnection.
  async connect_error() {
    for (const token of ["data", "plain"]) {
      const s = io(URL + "/guarded", opts({ auth: { token } }));
      const err = await refused(s);
      out("refused-" + token, { message: err.message, data: err.data, active: s.active });
      s.disconnect();
    }
    const ok = io(URL + "/guarded", opts({ auth: { token: "good" } }));
    await connected(ok);
    out("accepted", ok.connected);
    ok.disconnect();
  },

  // Disconnect reasons on both ends.
  async disconnect() {
    const s1 = io(URL, opts());
    await connected(s1);
    const d1 = waitFor(s1, "disconnect");
    s1.emit("kick-me");
    const [reason1] = await d1;
    out("kicked", { reason: reason1, active: s1.active });

    const s2 = io(URL, opts());
    await connected(s2);
    const d2 = waitFor(s2, "disconnect");
    s2.disconnect();
    out("left", (await d2)[0]);
  },

  // Disconnect(true): the server closes the whole connection, and every
  // namespace multiplexed on it hears "io server disconnect", so that none
  // reconnects.
  async disconnect_hard() {
    const m = new Manager(URL, Object.assign({ reconnection: false }, transportOpts()));
    const main = m.socket("/");
    const admin = m.socket("/admin", { auth: { role: "admin" } });
    await Promise.all([connected(main), connected(admin)]);
    const d = [waitFor(main, "disconnect"), waitFor(admin, "disconnect")];
    main.emit("kick-me-hard");
    out("main", (await d[0])[0]);
    out("admin", (await d[1])[0]);
  },

  // Heartbeat with short intervals: the client answers the server's pings.
  // Seven pings 100 ms apart outlast pingInterval + pingTimeout (600 ms):
  // a server whose pings went unanswered would have dropped the client.
  async heartbeat() {
    const s = io(URL, opts());
    let pings = 0;
    s.io.on("ping", () => pings++);
    await connected(s);
    if (!(await until(() => pings >= 7))) throw new Error(`only ${pings} pings in 5s`);
    out("heartbeat", { connected: s.connected });
    out("echo", await s.emitWithAck("echo", "still here"));
    s.disconnect();
  },
};

if (!URL || !scenarios[SCENARIO]) {
  console.error(`usage: URL=… SCENARIO=(${Object.keys(scenarios).join("|")}) node client_features.js`);
  process.exit(2);
}
main(scenarios[SCENARIO]);
