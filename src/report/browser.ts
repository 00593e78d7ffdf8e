// report.pdf and screenshots: index.html rendered by Playwright in the system Chromium (Debian package,
// never a downloaded browser). The page is opened from disk; every non-file request is refused, and the
// PDF is printed only once the chart script has signalled that every chart has drawn.
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, DEFAULT_CHROMIUM, launchChromium } from '../browser/chromium.ts';

export { chromiumPath, DEFAULT_CHROMIUM, launchChromium };

/** A4 at 96 dpi minus the 11 mm side margins of the print CSS: the width charts are drawn at for print. */
const A4_CONTENT_WIDTH_PX = Math.floor(((210 - 22) / 25.4) * 96);

async function withPage<T>(
  browser: Browser | undefined,
  viewport: { width: number; height: number },
  fn: (page: Page) => Promise<T>,
): Promise<T> {
  const own = browser ?? (await launchChromium());
  try {
    const context = await own.newContext({ viewport, deviceScaleFactor: 2 });
    try {
      const page = await context.newPage();
      await page.route('**/*', (route) =>
        route.request().url().startsWith('file:') ? route.continue() : route.abort('blockedbyclient'),
      );
      return await fn(page);
    } finally {
      await context.close();
    }
  } finally {
    if (!browser) await own.close();
  }
}

/** Opens a report page and waits until its charts have drawn; throws if the chart script failed. */
export async function openReport(page: Page, htmlFile: string, timeoutMs = 15_000): Promise<void> {
  await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load', timeout: timeoutMs });
  // Strings, not functions: this file is compiled without the DOM lib.
  await page.waitForFunction(
    'document.documentElement.dataset.chartsReady !== undefined || document.documentElement.dataset.chartsError !== undefined',
    null,
    {
      timeout: timeoutMs,
    },
  );
  const err = (await page.evaluate('document.documentElement.dataset.chartsError')) as string | undefined;
  if (err) throw new Error(`${htmlFile}: the chart script failed: ${err}`);
}

export interface BrowserOptions {
  /** Reuse a running browser (tests, benchmarks); otherwise one is launched and closed. */
  browser?: Browser;
}

export async function renderPdf(htmlFile: string, pdfFile: string, opts: BrowserOptions = {}): Promise<void> {
  await withPage(opts.browser, { width: A4_CONTENT_WIDTH_PX, height: 1100 }, async (page) => {
    // Lay the page out as printed before the charts measure their containers, so they fit A4.
    await page.emulateMedia({ media: 'print' });
    await openReport(page, htmlFile);
    await page.pdf({ path: pdfFile, format: 'A4', printBackground: true, preferCSSPageSize: true });
  });
}

export async function screenshot(
  htmlFile: string,
  pngFile: string,
  opts: BrowserOptions & { width?: number; fullPage?: boolean } = {},
): Promise<void> {
  await withPage(opts.browser, { width: opts.width ?? 1280, height: 900 }, async (page) => {
    await openReport(page, htmlFile);
    await page.screenshot({ path: pngFile, fullPage: opts.fullPage ?? true });
  });
}
