import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeStaleLockFile } from './embedded-postgres.js';

/** A postmaster.pid as PostgreSQL 15 writes it. */
const lockFile = (pid: number, shmid: number) =>
  [pid, '/data', '1796000000', '5432', '/tmp', '127.0.0.1', `  1433715 ${shmid}`, 'ready', ''].join(
    '\n',
  );

describe('removeStaleLockFile', () => {
  const dirs: string[] = [];
  const dataDir = (content: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'infq-lock-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'postmaster.pid'), content);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('removes the lock file of the server that died when its shared memory is gone', () => {
    const dir = dataDir(lockFile(4_000_001, 2_147_000_001));
    expect(removeStaleLockFile(dir, 4_000_001)).toBe(true);
    expect(existsSync(join(dir, 'postmaster.pid'))).toBe(false);
  });

  it("keeps another server's lock file", () => {
    const dir = dataDir(lockFile(4_000_002, 2_147_000_001));
    expect(removeStaleLockFile(dir, 4_000_001)).toBe(false);
    expect(existsSync(join(dir, 'postmaster.pid'))).toBe(true);
  });

  it('keeps the lock file while a process is still attached to its shared memory', () => {
    // The PostgreSQL server the tests run against holds a segment with its processes attached.
    const attached = readFileSync('/proc/sysvipc/shm', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .find((fields) => Number(fields[6]) > 0);
    expect(attached).toBeDefined();
    const dir = dataDir(lockFile(4_000_003, Number(attached![1])));
    expect(removeStaleLockFile(dir, 4_000_003)).toBe(false);
    expect(existsSync(join(dir, 'postmaster.pid'))).toBe(true);
  });

  it('does nothing without a lock file', () => {
    const dir = dataDir('');
    rmSync(join(dir, 'postmaster.pid'));
    expect(removeStaleLockFile(dir, 4_000_004)).toBe(false);
  });
});
