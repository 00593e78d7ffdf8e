// The self-contained HTML page shell shared by index.html and the trend page: the charting library
// (uPlot, read from node_modules at report time), the CSS and the chart script are inlined, data travels
// as embedded JSON, and a Content-Security-Policy forbids every network fetch, so the file renders the
// same offline, from an archive, or attached to a ticket.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { escapeHtml } from './markdown.ts';

const require = createRequire(import.meta.url);
const cache = new Map<string, string>();

function read(key: string, load: () => string): string {
  let v = cache.get(key);
  if (v === undefined) {
    v = load();
    cache.set(key, v);
  }
  return v;
}

const asset = (name: string) =>
  read(name, () => readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8'));
const uplotJs = () =>
  read('uplot.js', () => readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'));
const uplotCss = () =>
  read('uplot.css', () => readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'));

/** Inline <script> content must not contain `</script` (or `<!--`); JSON gets every `<` escaped. */
function inlineScript(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function jsonForScript(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:";

export interface PageOptions {
  title: string;
  body: string;
  data: unknown;
  /** File name under src/report/assets/ of the script that draws the charts. */
  script: 'charts.js' | 'trend.js';
}

export function htmlPage(o: PageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="faultline">
<title>${escapeHtml(o.title)}</title>
<style>${uplotCss()}</style>
<style>${asset('report.css')}</style>
</head>
<body>
${o.body}
<script id="faultline-data" type="application/json">${jsonForScript(o.data)}</script>
<script>${inlineScript(uplotJs())}</script>
<script>${inlineScript(asset(o.script))}</script>
</body>
</html>
`;
}
