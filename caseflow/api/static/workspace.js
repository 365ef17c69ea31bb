// The agent's pages, a little livelier: SLA countdowns tick down, and an open case page says
// when someone else changed the case. The pages are complete without it (the server renders
// every countdown, and a stale action is refused there).
"use strict";

(function () {
  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min";
    return m ? m + " min" : "less than a minute";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      if (left <= 0) {
        el.textContent = "breached " + duration(-left) + " ago";
        el.classList.remove("nearing");
        el.classList.add("breached");
      } else {
        el.textContent = "due in " + duration(left);
      }
    });
  }

  function watch(main) {
    var number = main.dataset.case, version = main.dataset.version;
    var banner = document.getElementById("changed");
    function poll() {
      fetch("/agent/cases/" + encodeURIComponent(number) + "/version?since=" + version,
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || String(answer.version) === String(version)) return;
          var who = answer.changed ? answer.changed.by + " (" + answer.changed.action + ")" : "someone";
          banner.textContent = "This case was changed by " + who + " since you opened it — ";
          var link = document.createElement("a");
          link.href = "/agent/cases/" + encodeURIComponent(number);
          link.textContent = "reload";
          banner.appendChild(link);
          banner.hidden = false;
        })
        .catch(function () {});
    }
    setInterval(poll, Number(main.dataset.poll || 5000));
  }

  tick();
  setInterval(tick, 30000);
  var main = document.getElementById("case");
  if (main && main.dataset.version) watch(main);
})();
