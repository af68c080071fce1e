/* Sortable, filterable long tables. Inlined by the page template (no network, no
   framework); without JavaScript the tables stay plain tables. A table gets a filter box
   and sort buttons in its header when it has at least MIN_ROWS body rows. */
(function () {
  "use strict";
  var MIN_ROWS = 8;
  var UNITS = { k: 1e3, m: 1e6, b: 1e9, "万": 1e4, "亿": 1e8 };
  var lang = (document.documentElement.lang || "en").toLowerCase();
  var WORDS = lang.indexOf("zh") === 0
    ? { filter: "筛选表格", placeholder: "输入关键字筛选", shown: "显示 {n} / {total} 行", sort: "排序" }
    : { filter: "Filter the table", placeholder: "Type to filter", shown: "{n} of {total} rows", sort: "Sort" };

  function number(text) {
    var t = text.replace(/[\s,¥$€£%+]/g, "").replace(/[−–]/g, "-");
    var m = /^(-?\d+(?:\.\d+)?)([kmb万亿]?)/i.exec(t);
    if (!m) return null;
    return parseFloat(m[1]) * (UNITS[m[2].toLowerCase()] || UNITS[m[2]] || 1);
  }

  function enhance(table) {
    var body = table.tBodies[0];
    if (!body || body.rows.length < MIN_ROWS || !table.tHead || table.dataset.enhanced) return;
    table.dataset.enhanced = "1";
    var rows = Array.prototype.slice.call(body.rows);
    var head = table.tHead.rows[table.tHead.rows.length - 1];
    Array.prototype.forEach.call(head.cells, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.title = WORDS.sort;
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(head.cells, function (c) { c.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var keyed = rows.map(function (row, i) {
          var cell = row.cells[col];
          var text = cell ? cell.textContent.trim() : "";
          return { row: row, i: i, n: number(text), t: text };
        });
        var numeric = keyed.every(function (k) { return k.n !== null || k.t === "" || k.t === "–"; });
        keyed.sort(function (a, b) {
          var d;
          if (numeric) {
            d = (a.n === null ? -Infinity : a.n) - (b.n === null ? -Infinity : b.n);
          } else {
            d = a.t.localeCompare(b.t, lang);
          }
          return (ascending ? d : -d) || a.i - b.i;
        });
        keyed.forEach(function (k) { body.appendChild(k.row); });
      });
    });
    var box = document.createElement("div");
    box.className = "table-filter";
    var label = document.createElement("label");
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = WORDS.placeholder;
    input.setAttribute("aria-label", WORDS.filter);
    var count = document.createElement("span");
    count.className = "table-count";
    count.setAttribute("aria-live", "polite");
    label.appendChild(input);
    box.appendChild(label);
    box.appendChild(count);
    var anchor = table.closest(".scroll") || table;
    anchor.parentNode.insertBefore(box, anchor);
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row) {
        var text = row.textContent.toLowerCase();
        var keep = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !keep;
        if (keep) shown += 1;
      });
      count.textContent = WORDS.shown.replace("{n}", shown).replace("{total}", rows.length);
    }
    input.addEventListener("input", apply);
    apply();
  }

  function run() {
    Array.prototype.forEach.call(document.querySelectorAll("main table, table.dataframe"), enhance);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
