// Keyboard shortcuts and bulk selection for the review desk. Everything works without it.
"use strict";
(function () {
  const page = document.body.dataset.page;

  function typing(event) {
    const target = event.target;
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function click(id) {
    const element = document.getElementById(id);
    if (element) element.click();
    return Boolean(element);
  }

  function focusField(id) {
    const element = document.getElementById(id);
    if (element) element.focus();
    return Boolean(element);
  }

  function queue() {
    const rows = Array.from(document.querySelectorAll("#queue tbody tr[data-id]"));
    const all = document.getElementById("select-all");
    let current = -1;
    const box = (row) => row.querySelector("input[type=checkbox]");
    function move(to) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, to));
      rows.forEach((row, i) => row.classList.toggle("current", i === current));
      rows[current].scrollIntoView({ block: "nearest" });
    }
    if (all) {
      all.addEventListener("change", () => rows.forEach((row) => { box(row).checked = all.checked; }));
    }
    rows.forEach((row, i) => row.addEventListener("click", (event) => {
      if (event.target.tagName !== "INPUT" && event.target.tagName !== "A") move(i);
    }));
    return function (event) {
      switch (event.key) {
        case "j": move(current + 1); return true;
        case "k": move(current - 1); return true;
        case "x":
          if (current >= 0) box(rows[current]).checked = !box(rows[current]).checked;
          return true;
        case "X":
          if (all) { all.checked = !all.checked; all.dispatchEvent(new Event("change")); }
          return true;
        case "Enter":
        case "o":
          if (current >= 0) window.location.href = rows[current].dataset.href;
          return current >= 0;
        case "A": return click("bulk-accept");
        case "/": return focusField("filter-channel");
        default: return false;
      }
    };
  }

  function complaint() {
    return function (event) {
      switch (event.key) {
        case "a": return click("accept");
        case "r": return focusField("route-agency");
        case "d": return focusField("duplicate-of");
        case "x": return focusField("discard-reason");
        case "n": return click("next-complaint");
        case "u": return click("back");
        default: return false;
      }
    };
  }

  const handle = page === "queue" ? queue() : page === "complaint" ? complaint() : null;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") {
      document.body.classList.toggle("help");
      event.preventDefault();
      return;
    }
    if (handle && handle(event)) event.preventDefault();
  });
})();
