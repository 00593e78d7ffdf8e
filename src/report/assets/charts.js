// Draws the report's charts with the inlined uPlot from the JSON embedded in the page. Runs in the browser
// (and in Chromium for the PDF). After drawing, each chart container carries data-points, data-fault-windows
// and data-markers, and <html> gets data-charts-ready, so tests and the PDF printer know the charts are there.
(() => {
  const root = document.documentElement;
  const DATA = JSON.parse(document.getElementById('faultline-data').textContent);
  // Okabe–Ito palette; marker kinds also differ by dash pattern so colour is never the only cue.
  const MARK = {
    'fault-inject': { c: '#d55e00', d: [], l: 'fault' },
    'fault-revert': { c: '#d55e00', d: [5, 3], l: 'revert' },
    detection: { c: '#0072b2', d: [], l: 'detected' },
    mitigation: { c: '#009e73', d: [5, 3], l: 'mitigation' },
    rollback: { c: '#cc79a7', d: [], l: 'rollback' },
    recovery: { c: '#009e73', d: [], l: 'recovered' },
    'replica-exit': { c: '#666666', d: [2, 3], l: 'exit' },
    'replica-start': { c: '#666666', d: [6, 2, 2, 2], l: 'start' },
    alert: { c: '#e69f00', d: [2, 2], l: 'alert' },
    alias: { c: '#cc79a7', d: [5, 3], l: 'alias' },
    abort: { c: '#000000', d: [], l: 'abort' },
  };
  const LABELLED = new Set(['detection', 'rollback', 'recovery', 'abort']);
  const VERSION_COLOURS = ['#0072b2', '#cc79a7', '#e69f00', '#56b4e9', '#009e73', '#000000'];
  const FONT = '11px "Inter", "Segoe UI", system-ui, "DejaVu Sans", sans-serif';
  const sec = (_u, vals) => vals.map((v) => `${v} s`);
  const pct = (_u, vals) => vals.map((v) => `${+v.toFixed(2)}%`);
  const ms = (_u, vals) => vals.map((v) => `${v} ms`);
  const printing = () => window.matchMedia?.('print').matches;

  function shadeFaults(s, drawn) {
    return (u) => {
      const { ctx, bbox } = u;
      drawn.windows = 0;
      ctx.save();
      ctx.fillStyle = 'rgba(230, 159, 0, 0.16)';
      ctx.strokeStyle = 'rgba(230, 159, 0, 0.55)';
      ctx.lineWidth = 1;
      for (const f of s.faults) {
        const x0 = Math.max(bbox.left, u.valToPos(f.from, 'x', true));
        const x1 = Math.min(bbox.left + bbox.width, u.valToPos(f.to, 'x', true));
        if (!(x1 > x0)) continue;
        ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
        ctx.strokeRect(x0, bbox.top, x1 - x0, bbox.height);
        drawn.windows++;
      }
      ctx.restore();
    };
  }

  function drawMarkers(s, labels, drawn) {
    return (u) => {
      const { ctx, bbox } = u;
      drawn.markers = 0;
      const r = window.devicePixelRatio || 1;
      ctx.save();
      ctx.font = `${Math.round(10 * r)}px "Inter", "Segoe UI", system-ui, "DejaVu Sans", sans-serif`;
      ctx.textBaseline = 'top';
      ctx.textAlign = 'left';
      // Greedy label rows: a label drops to the next row only if it would overlap one already placed.
      const rowEnds = [];
      for (const m of s.markers) {
        const style = MARK[m.kind] || MARK.abort;
        const x = u.valToPos(m.t, 'x', true);
        if (x < bbox.left - 1 || x > bbox.left + bbox.width + 1) continue;
        ctx.strokeStyle = style.c;
        ctx.lineWidth = 1.5 * r;
        ctx.setLineDash(style.d.map((d) => d * r));
        ctx.beginPath();
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
        ctx.stroke();
        drawn.markers++;
        if (labels && LABELLED.has(m.kind)) {
          const text = style.l;
          const w = ctx.measureText(text).width;
          const tx = Math.min(x + 3 * r, bbox.left + bbox.width - w - 2 * r);
          let row = rowEnds.findIndex((end) => tx > end + 4 * r);
          if (row < 0) row = rowEnds.length;
          rowEnds[row] = tx + w;
          const ty = bbox.top + 2 * r + row * 12 * r;
          ctx.fillStyle = 'rgba(255,255,255,0.85)';
          ctx.fillRect(tx - r, ty - r, w + 2 * r, 11 * r);
          ctx.fillStyle = style.c;
          ctx.fillText(text, tx, ty);
        }
      }
      ctx.restore();
    };
  }

  function chartOpts(kind, s, i, width, drawn) {
    const base = {
      width,
      height: printing() ? 165 : 190,
      legend: { live: false },
      cursor: { sync: { key: `scenario-${i}` }, drag: { x: true, y: false } },
      scales: { x: { time: false, range: [0, s.duration] } },
      axes: [
        {
          values: sec,
          font: FONT,
          stroke: '#5b6475',
          grid: { stroke: '#eceef2' },
          ticks: { stroke: '#dde1e8' },
        },
        {
          font: FONT,
          stroke: '#5b6475',
          grid: { stroke: '#eceef2' },
          ticks: { stroke: '#dde1e8' },
          size: 58,
        },
      ],
      hooks: { drawClear: [shadeFaults(s, drawn)], draw: [drawMarkers(s, kind === 'latency', drawn)] },
    };
    if (kind === 'latency') {
      base.axes[1].values = ms;
      base.scales.y = { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] };
      base.series = [
        { label: 'time' },
        { label: 'p50', stroke: '#0072b2', width: 1.6 },
        { label: 'p99', stroke: '#d55e00', width: 1.6, dash: [6, 3] },
      ];
      return [base, [s.x, s.p50, s.p99]];
    }
    if (kind === 'errors') {
      base.axes[1].values = pct;
      base.scales.y = { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] };
      base.series = [
        { label: 'time' },
        { label: 'error rate', stroke: '#d55e00', width: 1.6, fill: 'rgba(213,94,0,0.10)' },
      ];
      return [base, [s.x, s.errorRate]];
    }
    if (kind === 'fallback') {
      base.axes[1].values = pct;
      base.scales.y = { range: (_u, _min, max) => [0, Math.max(5, Math.min(100, max * 1.15))] };
      base.series = [
        { label: 'time' },
        { label: 'fallback share', stroke: '#009e73', width: 1.6, fill: 'rgba(0,158,115,0.12)' },
      ];
      return [base, [s.x, s.fallback]];
    }
    if (kind === 'quality') {
      // Each point closes a window sized by label count; plotted at its last answer.
      base.scales.y = { range: [0, 105] };
      base.series = [
        { label: 'time' },
        { label: 'AUC ×100', stroke: '#0072b2', width: 1.8, points: { show: true, size: 4 } },
        {
          label: 'precision %',
          stroke: '#d55e00',
          width: 1.6,
          dash: [6, 3],
          points: { show: true, size: 4 },
        },
        { label: 'recall %', stroke: '#009e73', width: 1.4, dash: [2, 3], points: { show: true, size: 4 } },
      ];
      const q = s.quality;
      return [base, [q.x, q.auc, q.precision, q.recall]];
    }
    // Served model version: share of answers per version, stepped, so a rollout and its rollback show as swaps.
    base.axes[1].values = pct;
    base.scales.y = { range: [0, 105] };
    const names = Object.keys(s.versions);
    base.series = [{ label: 'time' }];
    const data = [s.x];
    names.forEach((v, k) => {
      base.series.push({
        label: `v${v}`,
        stroke: VERSION_COLOURS[k % VERSION_COLOURS.length],
        width: 2,
        dash: k % 2 ? [6, 3] : undefined,
        paths: uPlot.paths.stepped({ align: 1 }),
      });
      data.push(s.versions[v]);
    });
    return [base, data];
  }

  const charts = [];
  function draw() {
    const containers = document.querySelectorAll('section.scenario .chart[data-chart]');
    let pending = containers.length;
    const done = () => {
      pending--;
      if (pending <= 0) root.dataset.chartsReady = String(containers.length);
    };
    if (!pending) root.dataset.chartsReady = '0';
    containers.forEach((el) => {
      const i = Number(el.closest('section.scenario').dataset.index);
      const s = DATA.scenarios[i];
      const kind = el.dataset.chart;
      const plot = el.querySelector('.plot');
      const drawn = { windows: 0, markers: 0 };
      const [opts, data] = chartOpts(kind, s, i, Math.max(240, plot.clientWidth), drawn);
      let first = true;
      opts.hooks.draw.push(() => {
        el.dataset.faultWindows = String(drawn.windows);
        el.dataset.markers = String(drawn.markers);
        el.dataset.points = String(data[1] ? data[1].filter((v) => v !== null && v !== undefined).length : 0);
        if (first) {
          first = false;
          done();
        }
      });
      charts.push({ u: new uPlot(opts, data, plot), plot });
    });
  }

  function resize() {
    for (const { u, plot } of charts)
      u.setSize({ width: Math.max(240, plot.clientWidth), height: printing() ? 165 : 190 });
  }

  try {
    draw();
    window.addEventListener('resize', resize);
    window.addEventListener('beforeprint', resize);
    window.addEventListener('afterprint', resize);
  } catch (e) {
    root.dataset.chartsError = String(e?.message ? e.message : e);
    throw e;
  }
})();
