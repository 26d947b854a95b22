// Live countdowns: every element with data-deadline="<ISO 8601 UTC>" shows the
// time left until that deadline, updated every second. Without JavaScript the
// page still shows the deadline as text next to it.
//
// Approve and reject buttons sit in an element with data-decide-until. Once
// that deadline passes, the server rejects the click, so the buttons are
// disabled and the hidden .deadline-passed note inside is shown.
//
// A page whose body has data-reload-seconds reloads itself after that many
// seconds, so decisions that were decided or timed out elsewhere leave it.
(function () {
  "use strict";

  function format(seconds) {
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds % 60;
    var parts = [];
    if (days) parts.push(days + "d");
    if (days || hours) parts.push(hours + "h");
    if (days || hours || minutes) parts.push(minutes + "m");
    parts.push(rest + "s");
    return parts.join(" ");
  }

  function updateCountdowns(now) {
    var elements = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < elements.length; i++) {
      var element = elements[i];
      var deadline = Date.parse(element.getAttribute("data-deadline"));
      if (isNaN(deadline)) continue;
      var left = Math.floor((deadline - now) / 1000);
      if (left > 0) {
        element.textContent = format(left) + " left, until";
        element.classList.toggle("urgent", left < 60);
      } else {
        element.textContent = "deadline passed at";
        element.classList.add("expired");
      }
    }
  }

  function closeExpiredChoices(now) {
    var choices = document.querySelectorAll("[data-decide-until]");
    for (var i = 0; i < choices.length; i++) {
      var choice = choices[i];
      var deadline = Date.parse(choice.getAttribute("data-decide-until"));
      if (isNaN(deadline) || deadline > now) continue;
      var buttons = choice.querySelectorAll("button");
      for (var j = 0; j < buttons.length; j++) {
        buttons[j].disabled = true;
      }
      var note = choice.querySelector(".deadline-passed");
      if (note) note.hidden = false;
    }
  }

  function update() {
    var now = Date.now();
    updateCountdowns(now);
    closeExpiredChoices(now);
  }

  function scrollLogsToEnd() {
    // The newest lines are at the end of a log, and they usually show why a
    // job failed.
    var logs = document.querySelectorAll("pre.log");
    for (var i = 0; i < logs.length; i++) {
      logs[i].scrollTop = logs[i].scrollHeight;
    }
  }

  function scheduleReload() {
    var seconds = parseInt(document.body.getAttribute("data-reload-seconds"), 10);
    if (seconds > 0) {
      window.setTimeout(function () {
        window.location.reload();
      }, seconds * 1000);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    update();
    window.setInterval(update, 1000);
    scrollLogsToEnd();
    scheduleReload();
  });
})();
