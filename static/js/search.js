// The header search box: htmx fills #search-suggest as you type; this file opens and
// closes the drop-down and lets the arrow keys walk its links. Enter with nothing
// highlighted submits the form (an exact id opens its page, anything else the results).
(function () {
  "use strict";

  function parts() {
    var form = document.querySelector("[data-topsearch]");
    if (!form) return null;
    return { form: form, input: form.querySelector("input[name=q]"), box: document.getElementById("search-suggest") };
  }

  function items(box) {
    return box ? Array.prototype.slice.call(box.querySelectorAll("a[role=option]")) : [];
  }

  function setOpen(p, open) {
    if (!p.box) return;
    p.box.hidden = !open;
    p.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) items(p.box).forEach(function (a) { a.classList.remove("is-active"); });
  }

  function activeIndex(p) {
    return items(p.box).findIndex(function (a) { return a.classList.contains("is-active"); });
  }

  function highlight(p, index) {
    var all = items(p.box);
    all.forEach(function (a, i) { a.classList.toggle("is-active", i === index); });
    if (all[index]) {
      all[index].scrollIntoView({ block: "nearest" });
      p.input.setAttribute("aria-activedescendant", "");
    }
  }

  // htmx swapped new suggestions in: show them if there is a query.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "search-suggest") return;
    var p = parts();
    if (!p) return;
    p.box = document.getElementById("search-suggest");
    setOpen(p, p.input.value.trim() !== "" && document.activeElement === p.input);
  });

  document.addEventListener("keydown", function (event) {
    var p = parts();
    if (!p) return;
    // "g" then "/"-free shortcut: Ctrl/Cmd+K focuses the search from anywhere.
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
      event.preventDefault();
      p.input.focus();
      p.input.select();
      return;
    }
    if (event.target !== p.input) return;
    var all = items(p.box);
    var index = activeIndex(p);
    if (event.key === "ArrowDown" && all.length) {
      event.preventDefault();
      setOpen(p, true);
      highlight(p, Math.min(all.length - 1, index + 1));
    } else if (event.key === "ArrowUp" && all.length) {
      event.preventDefault();
      highlight(p, Math.max(0, index - 1));
    } else if (event.key === "Enter" && index !== -1 && !p.box.hidden) {
      event.preventDefault();
      window.location.href = all[index].href;
    } else if (event.key === "Escape") {
      setOpen(p, false);
    }
  });

  document.addEventListener("input", function (event) {
    var p = parts();
    if (p && event.target === p.input && p.input.value.trim() === "") setOpen(p, false);
  });

  document.addEventListener("focusin", function (event) {
    var p = parts();
    if (p && event.target === p.input && p.input.value.trim() !== "" && items(p.box).length) {
      setOpen(p, true);
    }
  });

  document.addEventListener("click", function (event) {
    var p = parts();
    if (p && !p.form.contains(event.target)) setOpen(p, false);
  });
})();
