// A helpdesk browser's realtime client, run in Node: Laravel Echo over pusher-js, unchanged.
//
// RT_CONFIG (JSON): {host, port, key, authEndpoint, token, subscriptions: [{kind, name, events}]}
// kind is "private" (echo.private) or "presence" (echo.join); names are without the prefix, as
// Echo takes them. Prints one JSON object per line on stdout for the test to read.
import Echo from "laravel-echo";
import Pusher from "pusher-js";

const config = JSON.parse(process.env.RT_CONFIG);
const print = (record) => console.log(JSON.stringify(record));

const echo = new Echo({
  broadcaster: "pusher",
  Pusher,
  key: config.key,
  cluster: "local", // pusher-js requires one; wsHost/wsPort below decide where it connects
  wsHost: config.host,
  wsPort: config.port,
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
  authEndpoint: config.authEndpoint,
  auth: { headers: { Authorization: `Token ${config.token}`, Accept: "application/json" } },
});

const pusher = echo.connector.pusher;
pusher.connection.bind("state_change", ({ current }) => {
  print({ type: "state", state: current, socket_id: pusher.connection.socket_id ?? null });
});
pusher.connection.bind("error", (error) => print({ type: "error", error: error?.data ?? String(error) }));

for (const { kind, name, events = [] } of config.subscriptions) {
  const channel = kind === "presence" ? echo.join(name) : echo.private(name);
  channel.subscribed(() => print({ type: "subscribed", channel: name }));
  channel.error((error) => print({ type: "subscription_error", channel: name, error }));
  for (const event of events) {
    channel.listen(event, (data) => print({ type: "event", channel: name, event, data }));
  }
  if (kind === "presence") {
    channel
      .here((members) => print({ type: "here", channel: name, members }))
      .joining((member) => print({ type: "joining", channel: name, member }))
      .leaving((member) => print({ type: "leaving", channel: name, member }));
  }
}

process.on("SIGTERM", () => {
  echo.disconnect();
  process.exit(0);
});
