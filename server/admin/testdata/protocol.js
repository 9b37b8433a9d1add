// The official socket.io-client against a tsunagi server's admin namespace:
// a wrong password, a login, what the UI receives, its actions, a session
// id. Prints one JSON line: what it saw. URL is the server.
const { io } = require("socket.io-client");
const URL = process.env.URL;
const out = { events: {} };
const fail = (msg) => { console.log(JSON.stringify({ error: msg, out })); process.exit(1); };
setTimeout(() => fail("timed out"), Number(process.env.DEADLINE_MS || 20000));

const until = (cond) => new Promise((resolve) => {
  const check = () => (cond() ? resolve() : setTimeout(check, 10));
  check();
});

(async () => {
  // A wrong password is refused.
  const bad = io(URL + "/admin", { auth: { username: "admin", password: "wrong" }, reconnection: false });
  out.refused = await new Promise((resolve) => {
    bad.on("connect", () => resolve("connected"));
    bad.on("connect_error", (err) => resolve(err.message));
  });
  bad.close();

  const admin = io(URL + "/admin", { auth: { username: "admin", password: "secret" }, reconnection: false });
  const seen = (ev) => out.events[ev] || (out.events[ev] = []);
  for (const ev of ["session", "config", "all_sockets", "server_stats", "socket_connected", "socket_disconnected", "room_joined", "room_left", "event_received", "event_sent", "socket_updated"]) {
    admin.on(ev, (...args) => seen(ev).push(args));
  }
  await until(() => seen("all_sockets").length > 0 && seen("server_stats").length > 0);

  const user = io(URL, { query: { who: "user" }, reconnection: false, forceNew: true });
  const got = [];
  user.onAny((ev, ...args) => got.push([ev, ...args]));
  await new Promise((resolve) => user.on("connect", resolve));
  const id = user.id;
  out.userId = id;
  user.emit("hello", { a: 1 });
  await until(() => seen("event_received").some((a) => a[1] === id && a[2][0] === "hello"));
  await until(() => seen("event_sent").some((a) => a[1] === id && a[2][0] === "welcome"));
  await until(() => seen("room_joined").some((a) => a[1] === "room-1" && a[2] === id));
  await until(() => seen("socket_connected").some((a) => a[0].id === id));
  // It began on polling; the upgrade is reported.
  await until(() => seen("socket_updated").some((a) => a[0].id === id && a[0].nsp === "/" && a[0].transport === "websocket"));

  admin.emit("emit", "/", id, "fromAdmin", 42);
  await until(() => got.some((e) => e[0] === "fromAdmin" && e[1] === 42));
  admin.emit("join", "/", "r2", id);
  await until(() => seen("room_joined").some((a) => a[1] === "r2" && a[2] === id));
  admin.emit("leave", "/", "r2", id);
  await until(() => seen("room_left").some((a) => a[1] === "r2" && a[2] === id));
  const userGone = new Promise((resolve) => user.on("disconnect", resolve));
  admin.emit("_disconnect", "/", true, id);
  out.userReason = await userGone;
  await until(() => seen("socket_disconnected").some((a) => a[1] === id));

  // The session id the login gave opens the namespace without a password.
  const session = seen("session")[0][0];
  const again = io(URL + "/admin", { auth: { sessionId: session }, reconnection: false, forceNew: true });
  out.withSession = await new Promise((resolve) => {
    again.on("connect", () => resolve("connected"));
    again.on("connect_error", (err) => resolve(err.message));
  });
  const fake = io(URL + "/admin", { auth: { sessionId: "0123456789abcdef" }, reconnection: false, forceNew: true });
  out.withFakeSession = await new Promise((resolve) => {
    fake.on("connect", () => resolve("connected"));
    fake.on("connect_error", (err) => resolve(err.message));
  });
  again.close();
  fake.close();
  admin.close();
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => fail(String(e && e.stack || e)));
