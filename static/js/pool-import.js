// The pool import page: while the check or the import runs, show the upload's progress
// (htmx reports it) and then the server's, polled from the progress URL twice a second.
// The import itself is a plain form post: the page stays up (and keeps polling) until the
// server answers with the pool list.
(function () {
  "use strict";

  var timer = null;
  var box = null;

  function uploadForm() { return document.getElementById("import-form"); }

  function show(percent, text) {
    if (!box) return;
    box.hidden = false;
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-label]");
    if (percent === null) { bar.removeAttribute("value"); } else { bar.value = percent; }
    label.textContent = text;
  }

  function startPolling(token, where) {
    var form = uploadForm();
    if (!form) return;
    stop();
    box = where;
    var url = form.getAttribute("data-progress-url").replace("TOKEN", token);
    timer = setInterval(function () {
      htmx.ajax("GET", url, { target: "#import-progress", swap: "outerHTML" });
    }, 500);
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm();
    if (!form || event.detail.elt !== form) return;
    startPolling(form.querySelector("input[name=token]").value, form.querySelector("[data-import-progress]"));
    show(0, "Uploading…");
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploadForm();
    if (!form || event.detail.elt !== form || !event.detail.lengthComputable) return;
    var percent = Math.round((100 * event.detail.loaded) / event.detail.total);
    if (percent < 100) show(percent, "Uploading… " + percent + "%");
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!timer || !event.detail.target || event.detail.target.id !== "import-progress") return;
    var figure = document.querySelector("#import-progress [data-progress-percent]");
    if (figure) show(Number(figure.getAttribute("data-progress-percent")), figure.textContent.trim());
  });

  // Once the import is done the page is on its way to the pool list and the token is
  // spent: a poll still in flight gets a 404. That is not news; don't flash it.
  document.addEventListener("htmx:responseError", function (event) {
    var path = event.detail.requestConfig && event.detail.requestConfig.path;
    if (path && path.indexOf("/pool/import/progress/") !== -1) {
      stop();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = uploadForm();
    if (!form || event.detail.elt !== form) return;
    stop();
    if (box) box.hidden = true;
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-import-commit]") || event.defaultPrevented) return;
    startPolling(form.querySelector("input[name=token]").value, form.querySelector("[data-import-progress]"));
    show(null, "Importing…");
  });

  // Back from the pool list with the Back button: no stale progress.
  window.addEventListener("pageshow", function () {
    stop();
    document.querySelectorAll("[data-import-progress]").forEach(function (el) { el.hidden = true; });
  });
})();
