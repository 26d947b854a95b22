// Live countdowns: every element with data-deadline="<ISO 8601 UTC>" shows the
// time left until that deadline, updated every second. Without JavaScript the
// page still shows the deadline as text next to it.
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

  function update() {
    var now = Date.now();
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

  document.addEventListener("DOMContentLoaded", function () {
    update();
    window.setInterval(update, 1000);
  });
})();
