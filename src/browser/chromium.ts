// The system Chromium (Debian package `chromium`, or CHROMIUM_PATH), launched by Playwright with the
// flags this closed-network, run-as-root environment needs. Never a downloaded browser build.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(explicit?: string): string {
  const p = explicit ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  if (!existsSync(p)) {
    throw new Error(
      `Chromium not found at ${p}: install it (apt-get install -y chromium) or set CHROMIUM_PATH to its executable`,
    );
  }
  return p;
}

export async function launchChromium(executablePath?: string): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath(executablePath),
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}
