// What goes into the pipeline image (docker/pipeline/Dockerfile): the pipeline's own source files and
// the production packages they load, nothing of the harness around it (the CLI, reports, the
// Kubernetes and Testcontainers clients, Playwright): about a sixth of `npm ci --omit=dev`.
// scripts/build-images calls assemblePipelineContext() to lay out the Docker build context; it runs no
// network (the packages come from a production install the script staged on the host).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';

/** Import specifiers: `from 'x'`, `import 'x'`, `import('x')`, `require('x')`, `createRequire(…)('x')`. */
const SPECIFIER =
  /(?:\bfrom\s+|\bimport\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|\bcreateRequire\([^)]*\)\s*\(\s*)(['"])([^'"\n]+)\1/g;

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
}

export interface PipelineClosure {
  /** Source files, relative to the project root (e.g. `src/pipeline/registry/main.ts`). */
  files: string[];
  /** package-lock paths of the packages those files load, transitively (e.g. `node_modules/pino`). */
  packages: string[];
}

const listTs = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts'))
    .map((d) => path.join(d.parentPath, d.name));

const packageName = (spec: string) => spec.split('/', spec.startsWith('@') ? 2 : 1).join('/');

/**
 * Every file under src/pipeline plus the project files they import (followed transitively), and the
 * packages they load with every package those need, resolved through package-lock.json as npm laid
 * them out (nested copies included). A missing relative import or an unresolvable package throws:
 * better a failed build than an image whose service dies on its first request.
 */
export function pipelineClosure(root: string): PipelineClosure {
  const files = new Set<string>();
  const bare = new Set<string>();
  const queue = listTs(path.join(root, 'src', 'pipeline'));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[2];
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        if (!fs.existsSync(target))
          throw new Error(`${path.relative(root, file)}: imports ${spec}, which does not exist`);
        queue.push(target);
      } else if (!isBuiltin(spec)) {
        bare.add(packageName(spec));
      }
    }
  }

  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  // Node's resolution: <from>/node_modules/<name>, then each enclosing node_modules up to the root.
  const resolve = (from: string, name: string): string | undefined => {
    let base = from;
    for (;;) {
      const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (lock.packages[candidate]) return candidate;
      if (!base) return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const packages = new Set<string>();
  const visit = (from: string, name: string, optional: boolean, why: string) => {
    const at = resolve(from, name);
    if (!at) {
      if (optional) return;
      throw new Error(`package ${name} (needed by ${why}) is not in package-lock.json`);
    }
    if (packages.has(at)) return;
    const entry = lock.packages[at];
    if (entry.dev)
      throw new Error(`package ${name} (needed by ${why}) is a dev dependency: move it to dependencies`);
    packages.add(at);
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(at, dep, false, name);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(at, dep, true, name);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      visit(at, dep, entry.peerDependenciesMeta?.[dep]?.optional === true, name);
    }
  };
  for (const name of [...bare].sort()) visit('', name, false, 'src/pipeline');

  return {
    files: [...files].map((f) => path.relative(root, f)).sort(),
    packages: [...packages].sort(),
  };
}

/** The image's package.json: what Node needs (the module type) and what names the image. */
function manifest(root: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const m = { name: pkg.name, version: pkg.version, private: true, type: pkg.type, license: pkg.license };
  return `${JSON.stringify(m, null, 2)}\n`;
}

/**
 * A hash of everything the build context is made of, without making it: the closure's source files
 * (names and contents), its package paths, package-lock.json (whose integrity hashes fix every
 * package's contents) and the manifest. Equal hashes, equal contexts: scripts/build-images skips
 * assembling and building when the image already carries it.
 */
export function pipelineInputsHash(root: string): string {
  const closure = pipelineClosure(root);
  const h = createHash('sha256');
  for (const f of closure.files)
    h.update(`${f}\0`)
      .update(fs.readFileSync(path.join(root, f)))
      .update('\0');
  h.update(closure.packages.join('\n')).update('\0');
  h.update(fs.readFileSync(path.join(root, 'package-lock.json'))).update('\0');
  h.update(manifest(root));
  return h.digest('hex').slice(0, 32);
}

/**
 * Lays out the pipeline image's build context in `out` (emptied first): `app/package.json` (name,
 * version and module type only), `app/src/…` and `app/node_modules/…` copied from `stagedRoot`, a
 * directory where `npm ci --omit=dev` ran on this project's package-lock.json.
 */
export function assemblePipelineContext(root: string, stagedRoot: string, out: string): PipelineClosure {
  const closure = pipelineClosure(root);
  fs.rmSync(out, { recursive: true, force: true });
  const app = path.join(out, 'app');
  for (const f of closure.files) fs.cpSync(path.join(root, f), path.join(app, f));
  for (const p of closure.packages) {
    const from = path.join(stagedRoot, p);
    if (!fs.existsSync(from)) throw new Error(`${p} is missing from the staged install in ${stagedRoot}`);
    // Nested node_modules are copied as packages of their own, and only those the closure holds.
    const nested = path.join(from, 'node_modules');
    fs.cpSync(from, path.join(app, p), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (s) => s !== nested,
    });
  }
  fs.writeFileSync(path.join(app, 'package.json'), manifest(root));
  return closure;
}
