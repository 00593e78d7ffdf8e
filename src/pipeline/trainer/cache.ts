// Training is deterministic for a key (seed, role, data size) and the trainer's own code, so the
// result can be reused: a second pipeline start skips ~3 s of CPU. The cache key includes a hash of
// the source files that shape an artifact, so a code change retrains.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelArtifact } from '../schema.ts';

const SOURCES = ['./data.ts', './train.ts', '../schema.ts'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

let codeHash: string | undefined;
function sourcesHash(): string {
  if (!codeHash) {
    const h = createHash('sha256');
    for (const f of SOURCES) h.update(fs.readFileSync(f));
    codeHash = h.digest('hex').slice(0, 16);
  }
  return codeHash;
}

/** `off` disables the cache; default `$FAULTLINE_HOME/cache/trainer` (or `.faultline/...`). */
function cacheDir(): string | undefined {
  const v = process.env.FAULTLINE_TRAINER_CACHE;
  if (v === 'off') return undefined;
  return v || path.resolve(process.env.FAULTLINE_HOME ?? '.faultline', 'cache', 'trainer');
}

export function cachedTraining<T extends { artifact: ModelArtifact; auc: number | null }>(
  key: string,
  build: () => T,
): T & { cached: boolean } {
  const dir = cacheDir();
  if (!dir) return { ...build(), cached: false };
  const file = path.join(
    dir,
    `${createHash('sha256').update(`${key}\n${sourcesHash()}`).digest('hex').slice(0, 32)}.json`,
  );
  try {
    const hit = JSON.parse(fs.readFileSync(file, 'utf8')) as { artifact: unknown; auc: number | null };
    return { artifact: ModelArtifact.parse(hit.artifact), auc: hit.auc, cached: true } as T & {
      cached: boolean;
    };
  } catch {
    // No entry, or a torn/stale one: train and (re)write it.
  }
  const built = build();
  try {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ artifact: built.artifact, auc: built.auc }));
    fs.renameSync(tmp, file);
  } catch {
    // A read-only or full disk only costs the next start its training time.
  }
  return { ...built, cached: false };
}
