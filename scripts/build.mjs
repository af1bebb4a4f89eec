// `npm run build` (and so `npm start`, `npm run fake-backend`): builds the server, the OpenAPI
// document and the dashboard only when their sources changed since the last build, and never
// deletes or half-writes a file that a starting process may be loading. Each part is built into
// a scratch folder and moved into place file by file (a rename replaces a file atomically);
// files the new build no longer has are removed last. Concurrent builds wait for each other.
//   node scripts/build.mjs            build if sources changed
//   node scripts/build.mjs --force    build anyway
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { listFiles, lock, moveInto, replaceFile } from './build-files.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const UI = join(ROOT, 'admin-ui');
const UI_DIST = join(UI, 'dist');
const STAMP = join(DIST, '.build-stamp');
const LOCK = join(ROOT, '.build-lock');

/** What the build reads; generated files (openapi.json, schema.d.ts) are outputs, not inputs. */
const INPUTS = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'ormconfig.ts',
  'scripts/build.mjs',
  'scripts/build-files.mjs',
  'src',
  'test/support',
  'admin-ui/package.json',
  'admin-ui/package-lock.json',
  'admin-ui/index.html',
  'admin-ui/tsconfig.json',
  'admin-ui/vite.config.ts',
  'admin-ui/public',
  'admin-ui/src',
];
const GENERATED = new Set(['admin-ui/src/api/schema.d.ts']);
/** Files that must exist for the build to count as present. */
const OUTPUTS = ['dist/src/main.js', 'dist/src/cli.js', 'admin-ui/dist/index.html'];

const force = process.argv.includes('--force');

function main() {
  if (!force && isUpToDate()) return;
  const release = lock(LOCK, {
    onWait: () => console.error('infq: waiting for another build to finish…'),
  });
  try {
    // Another build may have finished while this one waited for the lock.
    if (!force && isUpToDate()) return;
    const fingerprint = sourcesFingerprint();
    console.error('infq: building (sources changed since the last build)…');
    buildServer();
    writeOpenApi();
    buildDashboard();
    writeFileSync(STAMP, `${fingerprint}\n`);
  } finally {
    release();
  }
}

function isUpToDate() {
  if (!OUTPUTS.every((path) => existsSync(join(ROOT, path)))) return false;
  const stamp = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : '';
  return stamp === sourcesFingerprint();
}

function sourcesFingerprint() {
  const hash = createHash('sha256');
  for (const path of INPUTS.flatMap((input) => listFiles(join(ROOT, input))).sort()) {
    const name = relative(ROOT, path).split('\\').join('/');
    if (GENERATED.has(name)) continue;
    hash.update(`${name}\0`).update(readFileSync(path)).update('\0');
  }
  return hash.digest('hex');
}

function buildServer() {
  // A sibling of dist/ at the same depth, so the source maps' relative paths stay right.
  const scratch = join(ROOT, `.build-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  try {
    run(
      process.execPath,
      [tool('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', scratch],
      ROOT,
    );
    moveInto(scratch, DIST, new Set(['.build-stamp']));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** admin-ui/openapi.json, from the freshly built app; rewritten only when it changed. */
function writeOpenApi() {
  const result = spawnSync(process.execPath, [join(DIST, 'src', 'cli.js'), 'openapi'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) fail('node dist/src/cli.js openapi', result.status);
  replaceFile(join(UI, 'openapi.json'), result.stdout);
}

function buildDashboard() {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  run(npm, ['run', 'generate:api', '--silent'], UI);
  run(npm, ['run', 'typecheck', '--silent'], UI);
  const scratch = join(UI, `.build-${process.pid}`);
  try {
    run(
      process.execPath,
      [
        join(UI, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--outDir',
        scratch,
        '--emptyOutDir',
        '--logLevel',
        'warn',
      ],
      UI,
    );
    // Hashed assets first, index.html last, so a page never names an asset not yet in place.
    moveInto(
      scratch,
      UI_DIST,
      new Set(),
      (a, b) => Number(a.endsWith('index.html')) - Number(b.endsWith('index.html')),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function tool(path) {
  return join(ROOT, 'node_modules', path);
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) fail(`${command} ${args.join(' ')}`, result.status);
}

function fail(what, status) {
  throw Object.assign(new Error(`infq: build step failed (exit ${status}): ${what}`), { status });
}

try {
  main();
} catch (error) {
  console.error(error.message);
  process.exitCode = error.status || 1;
}
