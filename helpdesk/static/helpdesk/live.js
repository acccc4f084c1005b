// The live ticket page: Laravel Echo over pusher-js follows the ticket's agents channel and
// prints every event as it arrives. Configuration comes from the page (helpdesk/live.py).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("live-config").textContent);
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const list = document.getElementById("live-events");
  const state = document.getElementById("live-state");
  const subscribed = document.getElementById("live-channel");

  const echo = new Echo.default({
    broadcaster: "pusher",
    Pusher: window.Pusher,
    key: config.key,
    cluster: "local", // pusher-js requires one; wsHost/wsPort decide where it connects
    wsHost: config.host,
    wsPort: config.port,
    wssPort: config.port,
    forceTLS: config.tls,
    enabledTransports: config.tls ? ["wss"] : ["ws"],
    disableStats: true,
    authEndpoint: config.authEndpoint,
    // The session authenticates the channel authorization; Django wants the CSRF token with it.
    auth: { headers: { "X-CSRFToken": csrf, Accept: "application/json" } },
  });

  const connection = echo.connector.pusher.connection;
  connection.bind("state_change", ({ current }) => {
    state.textContent = current;
  });

  function show(name, data) {
    const item = document.createElement("li");
    item.className = "live-event";
    item.dataset.event = name;
    const time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString();
    const label = document.createElement("strong");
    label.textContent = name;
    const body = document.createElement("code");
    body.textContent = JSON.stringify(data);
    item.append(time, " ", label, " ", body);
    list.prepend(item);
  }

  echo
    .private(config.channel)
    .subscribed(() => {
      subscribed.textContent = "subscribed";
    })
    .error((error) => {
      subscribed.textContent = `refused (${(error && error.status) || "error"})`;
    })
    // Every event on the channel, its name without Echo's namespace.
    .listenToAll((name, data) => {
      if (!name.startsWith("pusher")) show(name.replace(/^\./, ""), data);
    });

  // The reply form is an API client like any other: the event comes back over the websocket.
  const form = document.getElementById("live-reply");
  const status = document.getElementById("live-reply-status");
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const payload = { body: form.elements.body.value, public: form.elements.public.checked };
    const response = await fetch(form.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(payload),
    });
    status.textContent = response.ok ? "sent" : `refused (${response.status})`;
    if (response.ok) form.elements.body.value = "";
  });
})();
