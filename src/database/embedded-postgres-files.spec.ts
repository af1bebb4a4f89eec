import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  canEnter,
  clusterDirectory,
  copyForUser,
  serverUser,
  type ServerUser,
} from './embedded-postgres-files.js';

// Run as root (CI), these run as PostgreSQL's real user; as anyone else there is nothing to do.
describe.runIf(process.getuid?.() === 0)('embedded PostgreSQL files, run as root', () => {
  const dirs: string[] = [];
  const scratch = (mode = 0o700) => {
    const dir = mkdtempSync(join(tmpdir(), 'infq-files-'));
    chmodSync(dir, mode);
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const user = (): ServerUser => serverUser()!;

  it('copies binaries the server user cannot reach to a place it can, once, links kept', () => {
    // A private tree like a clone in `mktemp -d`, with a versioned library and its link.
    const source = join(scratch(), 'native');
    mkdirSync(join(source, 'bin'), { recursive: true });
    mkdirSync(join(source, 'lib'));
    writeFileSync(join(source, 'bin', 'postgres'), '#!/bin/sh\necho served\n', { mode: 0o755 });
    writeFileSync(join(source, 'lib', 'libpq.so.5.18'), 'library');
    symlinkSync('libpq.so.5.18', join(source, 'lib', 'libpq.so.5'));
    expect(canEnter(join(source, 'bin'), user())).toBe(false);

    const target = join(scratch(0o755), 'cache', 'embedded-postgres-test');
    expect(copyForUser(source, target, user())).toBe(target);
    expect(canEnter(join(target, 'bin'), user())).toBe(true);
    expect(readlinkSync(join(target, 'lib', 'libpq.so.5'))).toBe('libpq.so.5.18');
    expect(statSync(join(target, 'bin', 'postgres')).mode & 0o777).toBe(0o755);

    // A finished copy is used as it is; an unfinished one (no mark) is made again.
    writeFileSync(join(source, 'bin', 'postgres'), 'changed');
    copyForUser(source, target, user());
    expect(readFileSync(join(target, 'bin', 'postgres'), 'utf8')).toContain('served');
    rmSync(join(target, '.complete'));
    copyForUser(source, target, user());
    expect(readFileSync(join(target, 'bin', 'postgres'), 'utf8')).toBe('changed');
  });

  it('keeps the cluster in DATA_DIR when the server user can enter it, owned by that user', () => {
    const dataDir = join(scratch(0o755), 'data');
    mkdirSync(dataDir);
    const cluster = clusterDirectory(dataDir, user(), join(scratch(0o755), 'home'));
    expect(cluster).toBe(join(dataDir, 'postgres'));
    expect(statSync(cluster).uid).toBe(user().uid);
    expect(statSync(cluster).mode & 0o777).toBe(0o700);
  });

  it('moves a new cluster out of a private DATA_DIR and links it, and finds it again', () => {
    const dataDir = join(scratch(), 'data');
    mkdirSync(dataDir);
    const home = join(scratch(0o755), 'home');
    const cluster = clusterDirectory(dataDir, user(), home);
    expect(cluster.startsWith(`${home}/postgres-`)).toBe(true);
    expect(lstatSync(join(dataDir, 'postgres')).isSymbolicLink()).toBe(true);
    expect(statSync(cluster).uid).toBe(user().uid);
    expect(canEnter(cluster, user())).toBe(true);
    // The next start follows the link.
    expect(clusterDirectory(dataDir, user(), home)).toBe(cluster);
  });

  it('refuses, in one line naming the directory, an existing cluster the server user cannot reach', () => {
    const privateDir = scratch();
    mkdirSync(join(privateDir, 'data', 'postgres'), { recursive: true });
    expect(() => clusterDirectory(join(privateDir, 'data'), user(), scratch(0o755))).toThrow(
      new RegExp(`cannot enter ${privateDir}, where its cluster is.*DATABASE_URL`),
    );
    expect(existsSync(join(privateDir, 'data', 'postgres', 'PG_VERSION'))).toBe(false);
  });
});
