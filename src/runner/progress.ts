// Live progress for a watching room (TTY: one status line redrawn each second) or plain timestamped
// lines for CI logs.
import type { RequestRecord } from '../load/driver.ts';
import { summarize } from '../slo/summarize.ts';

export interface ProgressSource {
  records: RequestRecord[];
  active: () => string[];
  startedAt: number;
  durationMs: number;
}

export interface Progress {
  scenario(name: string, index: number, total: number): void;
  phase(name: string): void;
  event(msg: string): void;
  attach(src: ProgressSource): void;
  detach(): void;
}

export function createProgress(
  out: NodeJS.WriteStream = process.stderr,
  opts: { tty?: boolean; quiet?: boolean } = {},
): Progress {
  const tty = opts.tty ?? !!out.isTTY;
  let current = '';
  let phase = '';
  let timer: NodeJS.Timeout | undefined;
  let src: ProgressSource | undefined;
  let lastPlain = 0;
  const stamp = () => new Date().toISOString().slice(11, 19);
  const write = (line: string) => {
    if (opts.quiet) return;
    if (tty) out.write(`\r\x1b[2K${line}\n`);
    else out.write(`${stamp()} ${line}\n`);
  };
  const status = () => {
    if (!src) return '';
    const now = Date.now();
    const s = summarize(src.records, { from: now - 5500, to: now - 500 });
    const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(2)}%`);
    const elapsed = ((now - src.startedAt) / 1000).toFixed(0);
    const total = (src.durationMs / 1000).toFixed(0);
    const faults = src.active();
    return `[${current}] ${phase} ${elapsed}/${total}s  avail ${pct(s.availability)}  p99 ${s.latency.p99 === null ? '—' : `${s.latency.p99.toFixed(0)}ms`}  fallback ${pct(s.fallbackShare)}  faults: ${faults.length ? faults.join(', ') : 'none'}`;
  };
  return {
    scenario(name, i, total) {
      current = total > 1 ? `${i + 1}/${total} ${name}` : name;
      write(`▶ scenario ${current}`);
    },
    phase(name) {
      phase = name;
      write(`  phase: ${name}`);
    },
    event(msg) {
      write(`  ${msg}`);
    },
    attach(s) {
      src = s;
      timer = setInterval(() => {
        if (opts.quiet) return;
        if (tty) out.write(`\r\x1b[2K${status()}`);
        else if (Date.now() - lastPlain >= 5000) {
          lastPlain = Date.now();
          out.write(`${stamp()} ${status()}\n`);
        }
      }, 1000);
      timer.unref();
    },
    detach() {
      clearInterval(timer);
      if (tty && !opts.quiet) out.write('\r\x1b[2K');
      src = undefined;
    },
  };
}
