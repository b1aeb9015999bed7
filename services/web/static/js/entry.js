// The data-entry grid: moving between cells by keyboard, and saving each cell on its own.
//
// Nothing here judges a value: the server checks each cell as it is typed (htmx, /check) and answers
// each save with the cell's message. This file only does what a browser must: move the focus, send a
// changed value with an Idempotency-Key made once per edit (and reused by every retry of that edit, so
// a save whose answer was lost is stored once), retry with backoff when the connection or the server
// fails, and show each cell's state: saving, saved, retrying, not saved.
(function () {
  "use strict";

  var grid = document.getElementById("entry-grid");
  if (!grid || grid.dataset.readonly) {
    return;
  }
  var csrf = document.body.dataset.csrf || "";
  var saveUrl = grid.dataset.saveUrl;
  var labels = grid.dataset;
  var cells = Array.prototype.slice.call(grid.querySelectorAll("[data-cell]"));
  var states = {};
  var BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
  var PENDING = { saving: true, retrying: true, offline: true };

  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "cell-" + Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  function stateOf(input) {
    var code = input.dataset.code;
    if (!states[code]) {
      states[code] = { code: code, dom: input.dataset.dom, input: input, saved: input.dataset.saved || "", pending: null,
                       inflight: false, attempt: 0, timer: null, status: "saved" };
    }
    return states[code];
  }

  function label(status) {
    var name = "label" + status.charAt(0).toUpperCase() + status.slice(1);
    return labels[name] || "";
  }

  function show(state, status) {
    state.status = status;
    var element = document.getElementById("state-" + state.dom);
    if (element) {
      element.dataset.state = status;
      element.textContent = label(status);
    }
    overall();
  }

  function overall() {
    var element = document.getElementById("save-status");
    if (!element) {
      return;
    }
    var waiting = 0;
    var refused = 0;
    Object.keys(states).forEach(function (code) {
      var status = states[code].status;
      if (PENDING[status]) { waiting += 1; }
      if (status === "refused") { refused += 1; }
    });
    var text = waiting ? labels.labelPending + " " + waiting : labels.labelAllSaved;
    if (refused) {
      text += " " + labels.labelRefused + ": " + refused;
    }
    element.textContent = text;
    element.dataset.state = waiting ? "pending" : (refused ? "refused" : "saved");
  }

  // The server's verdict on the message it sent: aria-invalid follows it.
  function reflect(dom) {
    var input = document.getElementById("cell-" + dom);
    var box = document.getElementById("msg-" + dom);
    if (!input || !box) {
      return;
    }
    if (box.querySelector("[data-verdict='error']")) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function message(dom, html) {
    var box = document.getElementById("msg-" + dom);
    if (box) {
      box.innerHTML = html;
      reflect(dom);
    }
  }

  function body(text, code) {
    var data = new FormData(grid); // every cell as shown (the rules compare them) and the reason
    data.set("v." + code, text);
    data.delete("csrf_token");
    return new URLSearchParams(data);
  }

  function send(state) {
    var sending = state.pending;
    state.inflight = true;
    show(state, "saving");
    window.fetch(saveUrl + encodeURIComponent(state.code), {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: {
        "X-CSRF-Token": csrf,
        "Idempotency-Key": sending.key,
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded"
      },
      body: body(sending.text, state.code)
    }).then(function (response) {
      return response.text().then(function (html) {
        settle(state, sending, response, html);
      });
    }, function () {
      retry(state, sending);
    });
  }

  function settle(state, sending, response, html) {
    state.inflight = false;
    var status = response.status;
    if (status === 0 || status === 401) {
      // The session ended: a retry would be refused until the person signs in again.
      show(state, "offline");
      return;
    }
    if (status >= 500 || status === 429 || status === 408) {
      retry(state, sending);
      return;
    }
    message(state.dom, html);
    if (response.ok) {
      state.saved = sending.text;
      state.input.dataset.saved = sending.text;
      var position = response.headers.get("X-Position");
      var holder = document.getElementById("pos-" + state.dom);
      if (position && holder) {
        holder.value = position;
      }
      document.body.dispatchEvent(new CustomEvent("entry:saved", { bubbles: true }));
    }
    if (state.pending === sending) {
      state.pending = null;
      show(state, response.ok ? "saved" : "refused");
    } else if (state.pending) {
      send(state); // typed again meanwhile: save the newer value
    }
  }

  function retry(state, sending) {
    state.inflight = false;
    if (state.pending !== sending) {
      if (state.pending) {
        send(state);
      }
      return;
    }
    show(state, "retrying");
    var wait = BACKOFF_MS[Math.min(state.attempt, BACKOFF_MS.length - 1)];
    state.attempt += 1;
    state.timer = window.setTimeout(function () {
      state.timer = null;
      if (state.pending === sending && !state.inflight) {
        send(state);
      }
    }, wait);
  }

  function changed(input) {
    var state = stateOf(input);
    var text = input.value;
    if (state.pending ? state.pending.text === text : text === state.saved) {
      return;
    }
    state.pending = { text: text, key: newKey() };
    state.attempt = 0;
    if (state.timer) {
      window.clearTimeout(state.timer);
      state.timer = null;
    }
    if (!state.inflight) {
      send(state);
    }
  }

  function move(input, step) {
    var next = cells[cells.indexOf(input) + step];
    if (next) {
      next.focus();
      if (typeof next.select === "function") {
        next.select();
      }
    }
  }

  grid.addEventListener("change", function (event) {
    if (event.target.dataset && event.target.dataset.cell !== undefined) {
      changed(event.target);
    }
  });

  // A correction refused for want of a reason is sent again once the reason is given.
  var reason = document.getElementById("reason");
  if (reason) {
    reason.addEventListener("change", function () {
      Object.keys(states).forEach(function (code) {
        var state = states[code];
        if (state.status === "refused") {
          changed(state.input);
        }
      });
    });
  }

  grid.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.dataset || input.dataset.cell === undefined) {
      return;
    }
    if (event.altKey && (event.key === "l" || event.key === "L")) {
      event.preventDefault();
      var button = document.getElementById("history-" + input.dataset.dom);
      if (button) {
        button.click();
      }
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      changed(input);
      move(input, 1);
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      move(input, 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      move(input, -1);
    }
  });

  // A column pasted from a spreadsheet fills the cells below, one line each.
  grid.addEventListener("paste", function (event) {
    var input = event.target;
    if (!input.dataset || input.dataset.cell === undefined || input.tagName !== "INPUT") {
      return;
    }
    var lines = (event.clipboardData.getData("text") || "").replace(/\r/g, "").split("\n");
    if (lines.length && lines[lines.length - 1] === "") {
      lines.pop();
    }
    if (lines.length < 2) {
      return;
    }
    event.preventDefault();
    var start = cells.indexOf(input);
    lines.forEach(function (line, offset) {
      var target = cells[start + offset];
      if (target && target.tagName === "INPUT") {
        target.value = line.split("\t")[0].trim();
        window.htmx.trigger(target, "input");
        changed(target);
      }
    });
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList.contains("cell-msg")) {
      reflect(target.id.slice("msg-".length));
    }
  });

  window.addEventListener("beforeunload", function (event) {
    var unsaved = Object.keys(states).some(function (code) { return PENDING[states[code].status]; });
    if (unsaved) {
      event.preventDefault();
      event.returnValue = labels.labelLeave;
    }
  });
})();
