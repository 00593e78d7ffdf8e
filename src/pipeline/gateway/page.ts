// The synthetic user's page: one self-contained HTML document (no external resources, so it works
// offline and under a strict CSP) that checks a single transaction through /v1/predict.
import { TX_TYPES } from '../schema.ts';

/** Served with the page; inline style/script only, fetches only to the gateway itself. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const EXAMPLE = {
  user_id: 'u00042',
  type: 'TRANSFER',
  amount: 1250,
  old_balance: 5400,
  new_balance: 4150,
  hour: 14,
  merchant_risk: 0.12,
};

export function renderPage(): string {
  const options = TX_TYPES.map(
    (t) =>
      `<option value="${t}"${t === EXAMPLE.type ? ' selected' : ''}>${t.replace('_', '-').toLowerCase()}</option>`,
  ).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Faultline – check a transaction</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
  main { max-width: 34rem; margin: 2rem auto; padding: 1.5rem; background: #fff; border-radius: 8px;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin-top: 0; }
  form { display: grid; grid-template-columns: 1fr 1fr; gap: .75rem 1rem; }
  label { display: flex; flex-direction: column; font-size: .85rem; gap: .25rem; }
  input, select { font: inherit; padding: .35rem .45rem; border: 1px solid #aab; border-radius: 4px; }
  button { grid-column: 1 / -1; font: inherit; padding: .55rem; border: 0; border-radius: 4px;
           background: #1f5fbf; color: #fff; cursor: pointer; }
  button:disabled { background: #8aa4cc; cursor: progress; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 1.25rem 0 0; }
  dt { font-weight: 600; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
  #verdict[data-decision="approve"] { color: #176c2c; font-weight: 700; }
  #verdict[data-decision="review"] { color: #8a5a00; font-weight: 700; }
  #verdict[data-decision="decline"] { color: #b3261e; font-weight: 700; }
  #error { margin-top: 1rem; padding: .6rem .75rem; border-radius: 4px; background: #fdecea; color: #8c1d18;
           border: 1px solid #f1aeb5; }
</style>
</head>
<body>
<main>
  <h1>Check a transaction</h1>
  <form id="tx-form" data-testid="tx-form" novalidate>
    <label for="user_id">User id
      <input id="user_id" name="user_id" data-testid="user_id" type="text" value="${EXAMPLE.user_id}" required></label>
    <label for="type">Type
      <select id="type" name="type" data-testid="type">${options}</select></label>
    <label for="amount">Amount
      <input id="amount" name="amount" data-testid="amount" type="number" step="any" min="0" value="${EXAMPLE.amount}"></label>
    <label for="hour">Hour of day (0–23)
      <input id="hour" name="hour" data-testid="hour" type="number" step="1" min="0" max="23" value="${EXAMPLE.hour}"></label>
    <label for="old_balance">Balance before
      <input id="old_balance" name="old_balance" data-testid="old_balance" type="number" step="any" min="0" value="${EXAMPLE.old_balance}"></label>
    <label for="new_balance">Balance after
      <input id="new_balance" name="new_balance" data-testid="new_balance" type="number" step="any" min="0" value="${EXAMPLE.new_balance}"></label>
    <label for="merchant_risk">Merchant risk (0–1)
      <input id="merchant_risk" name="merchant_risk" data-testid="merchant_risk" type="number" step="0.01" min="0" max="1" value="${EXAMPLE.merchant_risk}"></label>
    <span></span>
    <button id="check" data-testid="check" type="submit">Check</button>
  </form>
  <section id="result" data-testid="result" data-state="idle" aria-live="polite" aria-label="Result">
    <dl>
      <dt>Verdict</dt><dd id="verdict" data-testid="verdict"></dd>
      <dt>Score</dt><dd id="score" data-testid="score"></dd>
      <dt>Model version</dt><dd id="model-version" data-testid="model-version"></dd>
      <dt>Fallback</dt><dd id="fallback" data-testid="fallback"></dd>
      <dt>Served by</dt><dd id="upstream" data-testid="upstream"></dd>
    </dl>
    <p id="error" data-testid="error" role="alert" hidden></p>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('tx-form'), button = $('check'), result = $('result'), error = $('error');
  const outputs = ['verdict', 'score', 'model-version', 'fallback', 'upstream'];
  // Numbers are sent as typed; anything else goes as-is so the model-server names the bad field.
  const num = (id) => { const v = $(id).value.trim(); if (v === '') return null; const n = Number(v); return Number.isFinite(n) ? n : v; };
  const clear = () => { for (const id of outputs) { $(id).textContent = ''; $(id).removeAttribute('data-decision'); } $('fallback').removeAttribute('data-used'); };
  const fail = (text) => { clear(); error.textContent = text; error.hidden = false; result.dataset.state = 'error'; };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const tx = { user_id: $('user_id').value.trim(), type: $('type').value, amount: num('amount'),
      old_balance: num('old_balance'), new_balance: num('new_balance'), hour: num('hour'), merchant_risk: num('merchant_risk') };
    button.disabled = true; error.hidden = true; error.textContent = ''; result.dataset.state = 'pending';
    try {
      const res = await fetch('/v1/predict', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(tx), signal: AbortSignal.timeout(10000) });
      let body = null;
      try { body = await res.json(); } catch { /* not JSON: reported below */ }
      if (!res.ok || !body || typeof body.decision !== 'string') {
        const what = body && body.error_code ? body.error_code + ': ' + (body.message || '') : 'unexpected response';
        fail('Request failed (HTTP ' + res.status + ') – ' + what);
        return;
      }
      $('verdict').textContent = body.decision;
      $('verdict').dataset.decision = body.decision;
      $('score').textContent = typeof body.score === 'number' ? body.score.toFixed(4) : String(body.score);
      $('model-version').textContent = (body.model_name ? body.model_name + ' v' : 'v') + (body.model_version ?? res.headers.get('x-model-version') ?? '?');
      const fb = body.fallback || {};
      $('fallback').textContent = fb.used ? 'used – ' + (fb.reason || 'unknown reason') : 'not used';
      $('fallback').dataset.used = fb.used ? 'true' : 'false';
      $('upstream').textContent = 'replica ' + (res.headers.get('x-upstream') ?? '?') + ', attempts ' + (res.headers.get('x-attempts') ?? '?');
      result.dataset.state = 'done';
    } catch (e) {
      fail('Could not reach the gateway – ' + (e && e.message ? e.message : String(e)));
    } finally {
      button.disabled = false;
    }
  });
})();
</script>
</body>
</html>
`;
}
