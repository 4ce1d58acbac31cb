/* Draws every chart of the page from its JSON data block; no inline scripts (Content-Security-Policy). */
(function () {
  "use strict";
  var months = ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"];
  // No mode bar (it covered legends and axis labels); drag to zoom and double-click to reset still work.
  var config = { displaylogo: false, displayModeBar: false, responsive: true, locale: "ja" };

  function registerJapanese() {
    Plotly.register({
      moduleType: "locale", name: "ja",
      dictionary: {
        "Download plot as a png": "画像（PNG）として保存", "Download plot": "画像として保存", "Zoom": "拡大",
        "Pan": "移動", "Zoom in": "拡大", "Zoom out": "縮小", "Autoscale": "全体を表示", "Reset axes": "軸を元に戻す",
        "Reset": "元に戻す", "Box Select": "範囲選択", "Lasso Select": "投げ縄選択",
        "Double-click to zoom back out": "ダブルクリックで元に戻す", "Toggle Spike Lines": "スパイク線の切替",
        "Show closest data on hover": "最も近い値を表示", "Compare data on hover": "値を比較", "Reset view": "表示を元に戻す"
      },
      format: {
        days: ["日曜日", "月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日"],
        shortDays: ["日", "月", "火", "水", "木", "金", "土"], months: months, shortMonths: months,
        date: "%Y/%m/%d", decimal: ".", thousands: ","
      }
    });
  }

  function draw(el) {
    var block = document.getElementById(el.getAttribute("data-figure"));
    var figure = JSON.parse(block.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      el.setAttribute("data-rendered", "true");
    });
  }

  if (window.Plotly) {
    registerJapanese();
    document.querySelectorAll("[data-figure]").forEach(draw);
    // Paper is narrower than most screens: each chart is laid out at the width of an A4 page (190 mm of
    // print area, ≈ 700 CSS px) before printing, and fills its box again afterwards.
    var onPaper = function (width) {
      return function () {
        document.querySelectorAll("[data-rendered]").forEach(function (el) {
          Plotly.relayout(el, { width: width });
        });
      };
    };
    window.addEventListener("beforeprint", onPaper(700));
    window.addEventListener("afterprint", onPaper(null));
  }
  document.querySelectorAll("input[type=file][data-shows]").forEach(function (input) {
    input.addEventListener("change", function () {
      var shown = document.getElementById(input.getAttribute("data-shows"));
      shown.textContent = input.files.length ? input.files[0].name : "未選択";
    });
  });
  // Tables that sort: each column header becomes a button (keyboard too); numbers and percentages sort as
  // numbers, everything else in Japanese collation; the header says which way (aria-sort).
  var sortKey = function (row, column) {
    var text = row.cells[column].textContent.trim();
    return /^[-+]?[\d,.]+%?$/.test(text) ? parseFloat(text.replace(/[,%+]/g, "")) : text;
  };
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = sortKey(a, column), y = sortKey(b, column);
          var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "ja");
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
