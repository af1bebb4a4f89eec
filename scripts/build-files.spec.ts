import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listFiles, lock, moveInto, replaceFile } from './build-files.mjs';

const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(files: Record<string, string> = {}): string {
  const path = mkdtempSync(join(tmpdir(), 'infq-build-spec-'));
  folders.push(path);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(path, name)), { recursive: true });
    writeFileSync(join(path, name), content);
  }
  return path;
}

const contents = (path: string): Record<string, string> =>
  Object.fromEntries(
    listFiles(path).map((file) => [relative(path, file), readFileSync(file, 'utf8')]),
  );

describe('moveInto', () => {
  it('replaces changed files, leaves equal ones untouched, removes stale ones, keeps the kept', () => {
    const dist = folder({
      'src/same.js': 'same',
      'src/changed.js': 'old',
      'src/gone/stale.js': 'stale',
      '.build-stamp': 'stamp',
    });
    const fresh = folder({
      'src/same.js': 'same',
      'src/changed.js': 'new',
      'src/added.js': 'added',
    });
    const sameInode = statSync(join(dist, 'src/same.js')).ino;
    moveInto(fresh, dist, new Set(['.build-stamp']));
    expect(contents(dist)).toEqual({
      '.build-stamp': 'stamp',
      'src/added.js': 'added',
      'src/changed.js': 'new',
      'src/same.js': 'same',
    });
    // An equal file is not rewritten: a process reading it never sees it change.
    expect(statSync(join(dist, 'src/same.js')).ino).toBe(sameInode);
  });

  it('moves files in the given order (the dashboard puts index.html last)', () => {
    const dist = folder();
    const fresh = folder({ 'index.html': 'page', 'assets/a.js': 'a' });
    const order = (a: string, b: string): number =>
      Number(a.endsWith('index.html')) - Number(b.endsWith('index.html'));
    moveInto(fresh, dist, new Set(), order);
    expect(contents(dist)).toEqual({ 'assets/a.js': 'a', 'index.html': 'page' });
  });
});

describe('replaceFile', () => {
  it('writes only when the content differs', () => {
    const path = join(folder({ 'openapi.json': '{}' }), 'openapi.json');
    expect(replaceFile(path, '{}')).toBe(false);
    expect(replaceFile(path, '{"a":1}')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}');
  });
});

describe('lock', () => {
  it('makes a second build wait until the first releases', async () => {
    const path = join(folder(), '.build-lock');
    const release = lock(path);
    const moduleUrl = new URL('./build-files.mjs', import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { lock } = await import(${JSON.stringify(moduleUrl)});
         const release = lock(${JSON.stringify(path)}, { onWait: () => console.log('waiting') });
         console.log('acquired ' + Date.now());
         release();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The child reports that it waits before the lock is released.
    while (!output.includes('waiting')) await once(child.stdout, 'data');
    const releasedAt = Date.now();
    release();
    await once(child, 'exit');
    const acquiredAt = Number(/acquired (\d+)/.exec(output)?.[1]);
    expect(acquiredAt).toBeGreaterThanOrEqual(releasedAt);
  });

  it('overrules a lock left by a process that died', () => {
    const path = join(folder(), '.build-lock');
    mkdirSync(path);
    // A pid far above any live process.
    writeFileSync(join(path, 'pid'), '2147483646');
    const release = lock(path, { waitMs: 1_000 });
    expect(readFileSync(join(path, 'pid'), 'utf8')).toBe(String(process.pid));
    release();
  });
});
