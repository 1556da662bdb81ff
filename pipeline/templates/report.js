(function () {
  "use strict";
  function clear() {
    document.querySelectorAll(".hl").forEach(function (e) { e.classList.remove("hl"); });
  }
  function marksFor(id) {
    return document.querySelectorAll('.mark[data-f~="' + id + '"]');
  }
  function offscreen(el) {
    var r = el.getBoundingClientRect();
    return r.top < 0 || r.bottom > window.innerHeight;
  }
  function focusRow(id, scroll) {
    var row = document.getElementById(id);
    var marks = marksFor(id);
    clear();
    if (row) { row.classList.add("hl"); }
    marks.forEach(function (m) { m.classList.add("hl"); });
    if (scroll && marks.length && offscreen(marks[0])) {
      marks[0].scrollIntoView({ block: "center", behavior: "smooth" });
    }
    return row;
  }
  document.querySelectorAll("tr.finding").forEach(function (tr) {
    tr.addEventListener("click", function (ev) {
      if (ev.target.closest("a, summary, button, textarea") || window.getSelection().toString()) { return; }
      focusRow(tr.id, true);
    });
  });
  document.querySelectorAll(".mark").forEach(function (m) {
    m.addEventListener("click", function () {
      var ids = (m.getAttribute("data-f") || "").split(" ").filter(Boolean);
      clear();
      m.classList.add("hl");
      ids.forEach(function (id) {
        var row = document.getElementById(id);
        if (row) { row.classList.add("hl"); }
      });
      var first = ids.length ? document.getElementById(ids[0]) : null;
      if (first && offscreen(first)) { first.scrollIntoView({ block: "center", behavior: "smooth" }); }
    });
  });
  document.querySelectorAll("a[data-jump]").forEach(function (a) {
    a.addEventListener("click", function () { focusRow(a.getAttribute("data-jump"), false); });
  });
  if (location.hash.length > 1) { focusRow(location.hash.slice(1), false); }
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var src = document.getElementById(b.getAttribute("data-copy"));
      if (!src) { return; }
      var done = function () { b.classList.add("done"); b.textContent = "已复制"; };
      var fallback = function () {
        src.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(src.value).then(done, fallback);
      } else { fallback(); }
    });
  });
  var tags = document.getElementById("all-tags");
  if (tags) {
    tags.addEventListener("change", function () { document.body.classList.toggle("all-tags", tags.checked); });
  }
})();
