/* Draws a page's charts from their JSON blocks (options computed by services/web/charts.py).
   ECharts with the SVG renderer, so that charts print sharp; numbers in the page's language.
   Charts in a fragment that htmx swaps are disposed before and drawn again after. */
(function () {
  "use strict";
  var locale = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
  var formats = {
    number: new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }),
    percent: new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }),
  };

  function formatter(kind) {
    var format = formats[kind] || formats.number;
    return function (value) {
      return value === null || value === undefined || value === "-" ? "—" : format.format(value);
    };
  }

  function draw(element) {
    var block = document.getElementById(element.getAttribute("data-chart"));
    if (!block || !window.echarts || echarts.getInstanceByDom(element)) return;
    var spec = JSON.parse(block.textContent);
    var options = spec.options;
    var format = formatter(spec.format);
    var valueAxis = options.xAxis.type === "value" ? options.xAxis : options.yAxis;
    valueAxis.axisLabel = Object.assign({}, valueAxis.axisLabel, { formatter: format });
    options.tooltip = Object.assign({}, options.tooltip, { valueFormatter: format });
    echarts.init(element, null, { renderer: "svg" }).setOption(options);
  }

  function each(root, action) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("[data-chart]").forEach(action);
  }

  function dispose(element) {
    var chart = window.echarts && echarts.getInstanceByDom(element);
    if (chart) chart.dispose();
  }

  function resizeAll() {
    each(document, function (element) {
      var chart = window.echarts && echarts.getInstanceByDom(element);
      if (chart) chart.resize();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { each(document, draw); });
  document.addEventListener("htmx:beforeSwap", function (event) { each(event.detail.target, dispose); });
  document.addEventListener("htmx:afterSettle", function (event) { each(event.detail.target, draw); });
  window.addEventListener("resize", resizeAll);
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
})();
