/* Live pages: fragments marked data-live re-fetch themselves on a Server-Sent Event (htmx SSE
   extension). This shows the stream's state and lets the reader pause and resume the updates
   (WCAG 2.2.2); while paused nothing is fetched, and resuming fetches once what was missed. */
(function () {
  "use strict";
  var paused = false;
  var missed = false;

  function state(name) {
    var element = document.querySelector("[data-live-state]");
    if (!element) return;
    element.textContent = element.getAttribute("data-" + name);
    element.setAttribute("data-state", name);
  }

  document.addEventListener("htmx:sseOpen", function () { if (!paused) state("connected"); });
  document.addEventListener("htmx:sseError", function () { if (!paused) state("lost"); });
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (paused && event.detail.elt.hasAttribute("data-live")) {
      missed = true;
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-live-toggle]");
    if (!button) return;
    paused = !paused;
    button.setAttribute("aria-pressed", String(paused));
    state(paused ? "paused" : "connected");
    if (!paused && missed) {
      missed = false;
      document.querySelectorAll("[data-live]").forEach(function (element) {
        htmx.trigger(element, "live:resume");
      });
    }
  });
})();
