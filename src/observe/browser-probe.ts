// A synthetic user in a real browser: every `everyMs` it opens the gateway's web page in Chromium,
// checks a transaction and records whether a verdict appeared, how long it took, and which model
// version answered.
import type { Browser } from 'playwright-core';
import { launchChromium } from '../browser/chromium.ts';
import type { Journal } from '../journal/journal.ts';
import type { Probe, ProbeResult } from './probe.ts';

export interface BrowserProbeOptions {
  everyMs: number;
  timeoutMs: number;
  path: string;
}

export class BrowserProbe implements Probe {
  readonly type = 'browser';
  private readonly opts: BrowserProbeOptions;
  private browser?: Browser;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(opts: BrowserProbeOptions) {
    this.opts = opts;
  }

  async start(ctx: { endpoints: { gateway: string }; journal: Journal; clock: () => number }): Promise<void> {
    try {
      this.browser = await launchChromium();
    } catch (e) {
      throw new Error(`browser probe: could not start Chromium: ${(e as Error).message.split('\n')[0]}`);
    }
    const page = await this.browser.newPage();
    const target = new URL(this.opts.path, ctx.endpoints.gateway);
    // The scenario schema already refuses such paths; this keeps the browser on the gateway regardless.
    if (target.origin !== new URL(ctx.endpoints.gateway).origin)
      throw new Error(
        `browser probe: path ${JSON.stringify(this.opts.path)} leaves the gateway (${target.origin})`,
      );
    const url = target.toString();
    const once = async () => {
      const t = ctx.clock();
      const started = performance.now();
      let result: ProbeResult;
      try {
        await page.goto(url, { timeout: this.opts.timeoutMs, waitUntil: 'domcontentloaded' });
        await page.click('#check', { timeout: this.opts.timeoutMs });
        // Locators wait without evaluating strings in the page, which its Content-Security-Policy forbids.
        await page
          .locator('#result[data-state="done"], #result[data-state="error"]')
          .waitFor({ timeout: this.opts.timeoutMs });
        const ok = (await page.getAttribute('#result', 'data-state')) === 'done';
        const text = (sel: string) => page.textContent(sel).then((v) => v?.trim() || undefined);
        result = {
          t,
          probe: 'browser',
          ok,
          latencyMs: performance.now() - started,
          modelVersion: await text('#model-version'),
          // The page shows "used – <reason>" or "not used"; data-used says which.
          fallback:
            (await page.getAttribute('#fallback', 'data-used')) === 'true'
              ? (await text('#fallback'))?.replace(/^used – /, '')
              : undefined,
          error: ok ? undefined : await text('#error'),
        };
      } catch (e) {
        result = {
          t,
          probe: 'browser',
          ok: false,
          latencyMs: performance.now() - started,
          error: (e as Error).message.split('\n')[0],
        };
      }
      if (!this.stopped) ctx.journal.append('probe', { result }, t);
    };
    const tick = () => {
      if (this.stopped || this.running) return;
      this.running = once().finally(() => {
        this.running = undefined;
      });
    };
    tick();
    this.timer = setInterval(tick, this.opts.everyMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.browser?.close().catch(() => undefined);
  }
}
