// The Operations dashboard: swaps in fresh panels every few seconds, posts retry/forget.
(function () {
  "use strict";
  var root = document.getElementById("ops-dashboard");
  if (!root) return;
  var panels = document.getElementById("ops-panels");
  var updated = document.getElementById("ops-updated");
  var message = document.getElementById("ops-message");
  var url = root.dataset.refreshUrl;
  var every = Math.max(1, parseInt(root.dataset.refreshSeconds, 10) || 5) * 1000;
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  var timer = null;
  var busy = false;

  function say(text, failed) {
    message.textContent = text;
    message.className = failed ? "ops-fail-text" : "";
  }

  function refresh() {
    if (busy) return Promise.resolve();
    busy = true;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        panels.innerHTML = data.html;
        updated.textContent = "Updated " + new Date(data.at).toLocaleTimeString();
        updated.className = "";
      })
      .catch(function (error) {
        updated.textContent = "Refresh failed (" + error.message + "); retrying";
        updated.className = "ops-fail-text";
      })
      .finally(function () { busy = false; });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { refresh().then(schedule); }, every);
  }

  panels.addEventListener("click", function (event) {
    var button = event.target.closest("button.ops-action");
    if (!button) return;
    var action = button.dataset.action;
    var id = button.dataset.jobId;
    if (action === "forget" && !window.confirm("Forget failed job #" + id + "? It will not run again.")) return;
    button.disabled = true;
    var target = url.replace(/refresh\/$/, "failed/" + id + "/" + action + "/");
    fetch(target, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf, Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) { say(result.body.detail || "done", !result.ok); })
      .catch(function (error) { say("Action failed: " + error.message, true); })
      .finally(function () { refresh().then(schedule); });
  });

  schedule();
})();
