// File steps of scripts/build.mjs: putting a fresh build in place without ever deleting or
// half-writing a file a starting process may load, and one build at a time per checkout.
// Types for the TypeScript side (the unit test) are in build-files.d.mts.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** Every file under `path` (or `path` itself), as absolute paths. */
export function listFiles(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => listFiles(join(path, name)));
}

/**
 * Moves every file of `from` to the same place under `to` (an atomic rename per file, skipped
 * when the content is the same), then removes files of `to` that `from` did not have, except
 * those named in `keep`. `order` sorts the relative names before they move.
 */
export function moveInto(from, to, keep = new Set(), order = () => 0) {
  const fresh = listFiles(from).map((path) => relative(from, path));
  const names = new Set(fresh);
  for (const name of fresh.sort(order)) {
    const source = join(from, name);
    const target = join(to, name);
    if (
      existsSync(target) &&
      statSync(target).isFile() &&
      readFileSync(target).equals(readFileSync(source))
    )
      continue;
    if (existsSync(target) && statSync(target).isDirectory()) rmSync(target, { recursive: true });
    mkdirSync(dirname(target), { recursive: true });
    renameSync(source, target);
  }
  for (const path of listFiles(to)) {
    const name = relative(to, path);
    if (!names.has(name) && !keep.has(name)) unlinkSync(path);
  }
  removeEmptyFolders(to);
}

function removeEmptyFolders(folder) {
  if (!existsSync(folder)) return;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(folder, entry.name);
    removeEmptyFolders(path);
    if (readdirSync(path).length === 0) rmdirSync(path);
  }
}

/** Writes `content` to `path` through a rename, and only when it differs. */
export function replaceFile(path, content) {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return false;
  const scratch = `${path}.${process.pid}.tmp`;
  writeFileSync(scratch, content);
  renameSync(scratch, path);
  return true;
}

/**
 * Takes the lock folder `path`, waiting while another live process holds it (a holder that
 * died is overruled). Returns the function that releases it.
 */
export function lock(path, { waitMs = 10 * 60_000, onWait = () => {} } = {}) {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    if (isStale(path)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${path} (remove it if no build runs)`);
    if (!announced) onWait();
    announced = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

function isStale(path) {
  try {
    const pid = Number(readFileSync(join(path, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return false;
  } catch (error) {
    if (error.code === 'EPERM') return false;
    // No pid yet: the holder may be between mkdir and write; give it a few seconds.
    if (error.code === 'ENOENT') {
      try {
        return Date.now() - statSync(path).mtimeMs > 5_000;
      } catch {
        return false;
      }
    }
    return true;
  }
}
