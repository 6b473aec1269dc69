// Draws every figure placeholder from the JSON block, and makes data tables sortable.
// A placeholder names its figure in data-figure (or by its id); one marked data-lazy is drawn
// only when revealed: its <details> opened, from a link to it or a click on a map node.
(function () {
  "use strict";
  var config = __PLOTLY_CONFIG__;
  var holder = document.getElementById("tracelens-figures");
  var figures = holder ? JSON.parse(holder.textContent) : {};
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var DARK_LAYOUT = {
    paper_bgcolor: "#1b1d21", plot_bgcolor: "#1b1d21", font: {color: "#e3e3e3"}
  };

  function themed(layout) {
    if (!dark) { return layout; }
    var copy = JSON.parse(JSON.stringify(layout));
    copy.paper_bgcolor = DARK_LAYOUT.paper_bgcolor;
    copy.plot_bgcolor = DARK_LAYOUT.plot_bgcolor;
    copy.font = copy.font || {};
    copy.font.color = DARK_LAYOUT.font.color;
    Object.keys(copy).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) { copy[key].gridcolor = "#3a3d42"; }
    });
    if (copy.template && copy.template.layout) {
      var t = copy.template.layout;
      ["xaxis", "yaxis"].forEach(function (axis) {
        if (t[axis]) { t[axis].gridcolor = "#3a3d42"; }
      });
      if (t.font) { t.font.color = DARK_LAYOUT.font.color; }
    }
    return copy;
  }

  function draw(box) {
    if (box.getAttribute("data-drawn")) { return; }
    var figure = figures[box.getAttribute("data-figure") || box.id];
    if (!figure) { return; }
    box.setAttribute("data-drawn", "1");
    if (typeof Plotly === "undefined") {
      box.textContent = "This chart needs plotly.js, which did not load (the report was made " +
        "with --cdn and the network is unreachable): make the report again without --cdn.";
      box.className += " failed";
      return;
    }
    Plotly.newPlot(box, figure.data, themed(figure.layout), config);
  }

  function drawIn(container) {
    var lazy = container.querySelectorAll("[data-figure][data-lazy]");
    for (var i = 0; i < lazy.length; i++) { draw(lazy[i]); }
  }

  var boxes = document.querySelectorAll("[data-figure]:not([data-lazy])");
  for (var i = 0; i < boxes.length; i++) { draw(boxes[i]); }

  // A <details> holding lazy figures draws them when it opens.
  var drills = document.querySelectorAll("details");
  for (var d = 0; d < drills.length; d++) {
    drills[d].addEventListener("toggle", function (event) {
      if (event.currentTarget.open) { drawIn(event.currentTarget); }
    });
  }

  // Reveal the element with this id: open it (and the <details> around it), then scroll.
  function reveal(id) {
    var target = document.getElementById(id);
    if (!target) { return false; }
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
    drawIn(target);
    target.classList.add("revealed");
    window.setTimeout(function () { target.classList.remove("revealed"); }, 1600);
    target.scrollIntoView({block: "start"});
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
    if (!link) { return; }
    var id = decodeURIComponent(link.getAttribute("href").slice(1));
    var target = document.getElementById(id);
    if (target && (target.tagName === "DETAILS" || target.closest("details"))) {
      event.preventDefault();
      history.replaceState(null, "", "#" + id);
      reveal(id);
    }
  });
  if (location.hash.length > 1) { reveal(decodeURIComponent(location.hash.slice(1))); }

  // A click on a service-map node shows that node's example traces.
  var map = document.getElementById("fig-service-map");
  if (map && map.on) {
    map.on("plotly_click", function (data) {
      var point = data && data.points && data.points[0];
      if (point && typeof point.customdata === "string") { reveal(point.customdata); }
    });
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
