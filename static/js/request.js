// The request page: candidate selection capped at the remaining count, and a second
// thought before a note goes out to the partner.
(function () {
  "use strict";

  function syncSelection() {
    var form = document.getElementById("assign-form");
    if (!form) return;
    var remaining = parseInt(form.dataset.remaining, 10) || 0;
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=account]"));
    var picked = boxes.filter(function (b) { return b.checked; }).length;
    boxes.forEach(function (b) {
      b.disabled = !b.checked && picked >= remaining;
      b.closest("tr").classList.toggle("is-selected", b.checked);
    });
    var label = form.querySelector("[data-selection-count]");
    if (label) {
      label.textContent = picked + " of " + remaining + " selected";
      label.classList.toggle("is-full", picked === remaining);
    }
    var assign = form.querySelector("[data-assign-selected]");
    if (assign) assign.disabled = picked === 0;
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("#assign-form input[name=account]")) syncSelection();
  });
  document.addEventListener("DOMContentLoaded", syncSelection);
  document.addEventListener("htmx:afterSettle", syncSelection);

  // htmx asks before it sends; a partner-visible note needs a yes.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("[data-note-form]")) return;
    var partner = form.querySelector("input[name=visibility][value=partner]");
    if (!partner || !partner.checked) return;
    event.preventDefault();
    if (window.confirm("This note will be visible to the partner (it becomes the request's " +
                       "note in the API). Add it?")) {
      event.detail.issueRequest(true);
    }
  });
})();
