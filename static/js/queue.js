// The request queue: keyboard shortcuts, row selection for bulk claim, and the 30-second
// refresh that keeps the selection, the keyboard cursor and the scroll position, and marks
// rows that were not there before.
(function () {
  "use strict";

  var REGION = "queue-results";
  var currentId = null;   // the row the keyboard cursor is on
  var newIds = new Set(); // rows that appeared on a refresh, until the filters change
  var beforeSwap = null;  // what the region held before a refresh replaced it

  function region() { return document.getElementById(REGION); }
  function rows() {
    var r = region();
    return r ? Array.prototype.slice.call(r.querySelectorAll("tr[data-request-id]")) : [];
  }
  function boxes() {
    var r = region();
    return r ? Array.prototype.slice.call(r.querySelectorAll("input[name=ids]")) : [];
  }

  function updateSelection() {
    var picked = boxes().filter(function (b) { return b.checked; });
    var r = region();
    if (!r) return;
    var count = r.querySelector("[data-selection-count]");
    var button = r.querySelector("[data-bulk-claim]");
    if (count) count.textContent = picked.length ? picked.length + " selected" : "None selected";
    if (button) button.disabled = picked.length === 0;
    boxes().forEach(function (b) {
      b.closest("tr").classList.toggle("is-selected", b.checked);
    });
    var all = r.querySelector("[data-select-all]");
    if (all) {
      all.checked = picked.length > 0 && picked.length === boxes().length;
      all.indeterminate = picked.length > 0 && picked.length < boxes().length;
    }
  }

  function setCurrent(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("is-current"); });
    currentId = row ? row.dataset.requestId : null;
    if (!row) return;
    row.classList.add("is-current");
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }

  function currentRow() {
    return rows().find(function (r) { return r.dataset.requestId === currentId; }) || null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index === -1 ? (step > 0 ? 0 : all.length - 1)
                            : Math.min(all.length - 1, Math.max(0, index + step));
    setCurrent(all[next], true);
  }

  function typing(target) {
    return target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (!region() || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target)) return;
    var row = currentRow();
    switch (event.key) {
      case "/": {
        var search = document.querySelector("#queue-filters input[name=q]");
        if (search) { event.preventDefault(); search.focus(); search.select(); }
        break;
      }
      case "j": event.preventDefault(); move(1); break;
      case "k": event.preventDefault(); move(-1); break;
      case "Enter":
        if (row && !event.target.closest("a, button")) {
          event.preventDefault();
          window.location.href = row.dataset.href;
        }
        break;
      case "c": {
        var claim = row && row.querySelector("[data-claim]");
        if (claim) { event.preventDefault(); claim.click(); }
        break;
      }
      case "x": {
        var box = row && row.querySelector("input[name=ids]");
        if (box) { event.preventDefault(); box.checked = !box.checked; updateSelection(); }
        break;
      }
    }
  });

  document.addEventListener("change", function (event) {
    if (!event.target.closest("#" + REGION)) return;
    if (event.target.matches("[data-select-all]")) {
      boxes().forEach(function (b) { b.checked = event.target.checked; });
    }
    updateSelection();
  });

  // A click on a row (outside its links, buttons and boxes) moves the cursor there.
  document.addEventListener("click", function (event) {
    var row = event.target.closest("#" + REGION + " tr[data-request-id]");
    if (row && !event.target.closest("a, button, input, label")) setCurrent(row, false);
  });

  function isRefresh(detail) {
    return detail.requestConfig && detail.requestConfig.elt &&
      detail.requestConfig.elt.id === REGION && detail.requestConfig.verb === "get";
  }

  // Shareable URLs: leave the filters that are not set out of the query string.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get" || !event.detail.elt.matches("#queue-filters")) return;
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      var value = params[name];
      if (value === "" || (Array.isArray(value) && value.length === 0)) delete params[name];
    });
  });

  // Polling pauses while the tab is hidden: nobody is looking, and the database is spared.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isRefresh(event.detail) && document.hidden) event.preventDefault();
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== REGION &&
        event.detail.target.id !== "queue") return;
    var refresh = isRefresh(event.detail);
    if (!refresh) newIds.clear();
    beforeSwap = {
      refresh: refresh,
      checked: boxes().filter(function (b) { return b.checked; }).map(function (b) { return b.value; }),
      seen: rows().map(function (r) { return r.dataset.requestId; }),
      scrollY: window.scrollY,
    };
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!beforeSwap || !region()) return;
    var state = beforeSwap;
    beforeSwap = null;
    if (state.refresh) {
      boxes().forEach(function (b) { b.checked = state.checked.indexOf(b.value) !== -1; });
      var seen = new Set(state.seen);
      rows().forEach(function (r) {
        if (!seen.has(r.dataset.requestId) && state.seen.length) newIds.add(r.dataset.requestId);
      });
      window.scrollTo(0, state.scrollY);
    }
    rows().forEach(function (r) {
      if (!newIds.has(r.dataset.requestId)) return;
      r.classList.add("is-new");
      var link = r.querySelector("[data-row-link]");
      if (link && !r.querySelector(".chip-new")) {
        var chip = document.createElement("span");
        chip.className = "chip chip-new";
        chip.textContent = "New";
        link.after(" ", chip);
      }
    });
    var row = currentRow();
    if (row) setCurrent(row, false);
    updateSelection();
  });

  document.addEventListener("DOMContentLoaded", updateSelection);
})();
