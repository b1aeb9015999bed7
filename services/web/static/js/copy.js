// Copy buttons: <button data-copy="ID"> copies the value of the field ID and says so in the page's
// live region (#copy-status). Without the clipboard API (an insecure origin), the text is selected
// for Ctrl+C instead.
(function () {
  "use strict";

  function say(text) {
    var status = document.getElementById("copy-status");
    if (status) {
      status.textContent = text;
    }
  }

  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    var failed = function () {
      field.focus();
      field.select();
      say(button.getAttribute("data-copy-failed"));
    };
    if (!navigator.clipboard || !window.isSecureContext) {
      failed();
      return;
    }
    navigator.clipboard.writeText(field.value).then(function () {
      say(button.getAttribute("data-copied"));
    }, failed);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      copy(button);
    }
  });
})();
