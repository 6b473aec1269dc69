// Draws every figure placeholder from the JSON block, and makes data tables sortable.
(function () {
  "use strict";
  var config = __PLOTLY_CONFIG__;
  var holder = document.getElementById("tracelens-figures");
  var figures = holder ? JSON.parse(holder.textContent) : {};
  var boxes = document.querySelectorAll("[data-figure]");
  for (var i = 0; i < boxes.length; i++) {
    var box = boxes[i];
    var figure = figures[box.id];
    if (!figure) { continue; }
    if (typeof Plotly === "undefined") {
      box.textContent = "This chart needs plotly.js, which did not load (the report was made " +
        "with --cdn and the network is unreachable): make the report again without --cdn.";
      box.className += " failed";
      continue;
    }
    Plotly.newPlot(box, figure.data, figure.layout, config);
  }

  function sortKey(row, index, numeric) {
    var cell = row.children[index];
    var value = cell ? cell.getAttribute("data-sort") : null;
    if (numeric) {
      var number = value === null ? NaN : parseFloat(value);
      return isNaN(number) ? -Infinity : number;
    }
    return (value === null ? cell.textContent : value).toLowerCase();
  }

  function sortBy(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var numeric = header.classList.contains("num");
    var descending = header.getAttribute("aria-sort") !== "descending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = sortKey(a, index, numeric), y = sortKey(b, index, numeric);
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    var headers = header.parentNode.children;
    for (var k = 0; k < headers.length; k++) { headers[k].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  var headers = document.querySelectorAll("table.sortable th");
  for (var h = 0; h < headers.length; h++) {
    headers[h].addEventListener("click", function (event) { sortBy(event.currentTarget); });
  }
})();
