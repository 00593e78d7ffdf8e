// Draws the trend page's charts (pass rate per period, MTTD/MTTR per run) from the embedded JSON.
// Sets data-points on each chart container and data-charts-ready on <html> once all have drawn.
(() => {
  const root = document.documentElement;
  const DATA = JSON.parse(document.getElementById('faultline-data').textContent);
  // Okabe–Ito; series also differ by dash so colour is not the only cue.
  const COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];
  const DASHES = [undefined, [6, 3], [2, 3], [8, 3, 2, 3]];
  const FONT = '11px "Inter", "Segoe UI", system-ui, "DejaVu Sans", sans-serif';
  const axis = (values) => ({
    font: FONT,
    stroke: '#5b6475',
    grid: { stroke: '#eceef2' },
    ticks: { stroke: '#dde1e8' },
    values,
  });
  const height = () => (window.matchMedia?.('print').matches ? 180 : 220);
  const charts = [];
  let pending = 0;
  const mark = (el, data) => {
    let first = true;
    return () => {
      el.dataset.points = String(
        data.slice(1).reduce((a, s) => a + s.filter((v) => v !== null && v !== undefined).length, 0),
      );
      if (first) {
        first = false;
        pending--;
        if (pending <= 0) root.dataset.chartsReady = String(charts.length);
      }
    };
  };
  // One point alone gives uPlot a zero-width x range; pad it by a day either side.
  const xRange = (_u, min, max) => (min === max ? [min - 86400, max + 86400] : [min, max]);

  function make(el, opts, data) {
    const plot = el.querySelector('.plot');
    opts.width = Math.max(260, plot.clientWidth);
    opts.height = height();
    opts.hooks = { draw: [mark(el, data)] };
    opts.legend = { live: false };
    charts.push({ u: new uPlot(opts, data, plot), plot });
  }

  try {
    const passEl = document.querySelector('.chart[data-chart="pass-rate"]');
    const scenEls = document.querySelectorAll('section.trend-scenario .chart[data-chart="mttr"]');
    pending = (passEl ? 1 : 0) + scenEls.length;
    if (!pending) root.dataset.chartsReady = '0';
    if (passEl) {
      const data = [DATA.periods.map((p) => p.start), ...DATA.passRate.map((s) => s.values)];
      const series = [
        { label: 'period' },
        ...DATA.passRate.map((s, i) => ({
          label: s.name,
          stroke: COLOURS[i % COLOURS.length],
          dash: DASHES[i % DASHES.length],
          width: 2,
          points: { show: true, size: 7 },
          spanGaps: true,
        })),
      ];
      const keys = new Map(DATA.periods.map((p) => [p.start, p.key]));
      make(
        passEl,
        {
          scales: { x: { time: true, range: xRange }, y: { range: [0, 105] } },
          // Ticks only where a period starts, labelled with the period (2025-Q1).
          axes: [
            {
              ...axis((_u, vals) => vals.map((v) => keys.get(v) ?? '')),
              splits: () => DATA.periods.map((p) => p.start),
            },
            axis((_u, vals) => vals.map((v) => `${v}%`)),
          ],
          series,
        },
        data,
      );
    }
    scenEls.forEach((el) => {
      const name = el.closest('section').dataset.scenario;
      const s = DATA.scenarios.find((x) => x.name === name);
      const data = [s.x, s.mttd, s.mttr, s.mttdTarget, s.mttrTarget];
      make(
        el,
        {
          scales: {
            x: { time: true, range: xRange },
            y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
          },
          axes: [axis(), axis((_u, vals) => vals.map((v) => `${v} s`))],
          series: [
            { label: 'run' },
            { label: 'MTTD', stroke: '#0072b2', width: 2, points: { show: true, size: 7 } },
            { label: 'MTTR', stroke: '#d55e00', width: 2, points: { show: true, size: 7 } },
            { label: 'MTTD target', stroke: '#0072b2', width: 1, dash: [5, 4], points: { show: false } },
            { label: 'MTTR target', stroke: '#d55e00', width: 1, dash: [5, 4], points: { show: false } },
          ],
        },
        data,
      );
    });
    const resize = () => {
      for (const { u, plot } of charts)
        u.setSize({ width: Math.max(260, plot.clientWidth), height: height() });
    };
    window.addEventListener('resize', resize);
    window.addEventListener('beforeprint', resize);
  } catch (e) {
    root.dataset.chartsError = String(e?.message ? e.message : e);
    throw e;
  }
})();
