// Lease Desk: behaviour shared by every dashboard page. No inline scripts anywhere: pages
// opt in through data- attributes, so a strict Content-Security-Policy can forbid them.
(function () {
  "use strict";

  function flash(level, text) {
    var area = document.getElementById("messages");
    if (!area) return;
    var box = document.createElement("div");
    box.className = "flash flash-" + level;
    box.setAttribute("role", level === "error" ? "alert" : "status");
    var span = document.createElement("span");
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "flash-close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    box.appendChild(span);
    box.appendChild(close);
    area.appendChild(box);
  }
  window.LeaseDesk = { flash: flash };

  // Dismiss a message; success and info messages also fade by themselves.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) button.closest(".flash").remove();
  });

  function fadeQuietMessages(root) {
    (root || document).querySelectorAll(".flash-success, .flash-info").forEach(function (box) {
      if (box.dataset.fading) return;
      box.dataset.fading = "1";
      setTimeout(function () { box.remove(); }, 6000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { fadeQuietMessages(); });
  document.addEventListener("htmx:afterSettle", function () { fadeQuietMessages(); });

  // Plain (non-htmx) forms that need a second thought: <form data-confirm="Really?">,
  // and forms that must not go twice on a double click: <form data-submit-once>.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute && form.hasAttribute("data-submit-once")) {
      if (form.dataset.submitted) {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "1";
    }
  });

  // Coming back with the Back button restores the page as it was: let its forms go again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
    });
  });

  // htmx does not swap error responses; say what happened instead of doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = {
      403: "Your role does not allow that action.",
      404: "That record no longer exists. Reload the page.",
      405: "That action is not available here.",
      503: "Lease Desk can't reach its database just now; nothing was saved. Try again in a moment.",
    }[status] || "Something went wrong on our side (" + status + "). Reload the page to see where things stand.";
    flash("error", text);
  });
  document.addEventListener("htmx:sendError", function () {
    flash("error", "Could not reach Lease Desk. Check your connection and try again.");
  });
})();
