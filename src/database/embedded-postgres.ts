import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ConfigError } from '../config/bus-nodes.js';
import type { Logger } from 'pino';
import {
  clusterDirectory,
  serverBinaries,
  serverUser,
  type ServerBinaries,
  type ServerUser,
} from './embedded-postgres-files.js';

const USER = 'postgres';
// The password of clusters initialised before passwords were random; replaced on first start.
const LEGACY_PASSWORD = 'infq-embedded';
// Under DATA_DIR, readable by infq's user alone.
const PASSWORD_FILE = 'postgres-password';
const DATABASE = 'infq';
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 5_000;
const READY_LINE = 'database system is ready to accept connections';

/**
 * A real PostgreSQL, from the `embedded-postgres` package's binaries, with its cluster under
 * `DATA_DIR`, for zero-install runs. Its superuser password is random, kept in
 * `DATA_DIR/postgres-password` (mode 0600); it listens on 127.0.0.1 alone; and it is
 * supervised: if its process dies, it is started again on the same port. Run as root, it runs as
 * the `postgres` user (see `embedded-postgres-files.ts` for where its files go then).
 */
export class EmbeddedPostgres {
  private stopping = false;

  private constructor(
    private readonly server: ServerProcess,
    /** Connection URL of the started server's `infq` database. */
    readonly url: string,
    private readonly logger: Logger,
  ) {}

  static async start(dataDir: string, logger: Logger): Promise<EmbeddedPostgres> {
    mkdirSync(resolve(dataDir), { recursive: true });
    const user = serverUser();
    const binaries = await serverBinaries(user);
    const databaseDir = clusterDirectory(resolve(dataDir), user);
    stopOrphan(databaseDir, dataDir, logger);
    const initialised = existsSync(resolve(databaseDir, 'PG_VERSION'));
    const stored = readPassword(dataDir);
    // A new cluster gets a fresh password, written down before initdb so a crash cannot lose it.
    const password = stored ?? (initialised ? LEGACY_PASSWORD : writePassword(dataDir));
    if (!initialised) {
      logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
      await initialise(binaries, databaseDir, password, user);
    }
    const server = new ServerProcess(binaries, databaseDir, await findFreePort(), user, logger);
    await server.start();
    const client = new pg.Client({
      host: '127.0.0.1',
      port: server.port,
      user: USER,
      password,
      database: 'postgres',
    });
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
    logger.info({ databaseDir, port: server.port }, 'embedded PostgreSQL started');
    const embedded = new EmbeddedPostgres(
      server,
      `postgres://${USER}:${encodeURIComponent(finalPassword)}@127.0.0.1:${server.port}/${DATABASE}`,
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
    const child = this.server.process;
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
        if (deadPid !== undefined) removeStaleLockFile(this.server.databaseDir, deadPid);
        // Its old backends may still be exiting; a start that finds them fails and is retried.
        await this.server.start();
        if (this.stopping) return;
        this.logger.info(
          { afterMs: Date.now() - startedAt },
          'embedded PostgreSQL is running again',
        );
        this.supervise();
        return;
      } catch (error) {
        this.logger.debug({ error: (error as Error).message }, 'embedded PostgreSQL restart');
        await sleep(delay);
        delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
      }
    }
  }
}

/** One `postgres` server process on a fixed port and cluster, started again on demand. */
class ServerProcess {
  process: ChildProcess | undefined;

  constructor(
    private readonly binaries: ServerBinaries,
    readonly databaseDir: string,
    readonly port: number,
    private readonly user: ServerUser | undefined,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the server accepts connections; rejects with its last words if it exits. */
  async start(): Promise<void> {
    const child = spawn(
      this.binaries.postgres,
      [
        '-D',
        this.databaseDir,
        '-p',
        String(this.port),
        '-c',
        'listen_addresses=127.0.0.1',
        // TCP alone: no socket file to clash with another server's in a shared directory.
        '-c',
        'unix_socket_directories=',
      ],
      { ...this.user, env: serverEnvironment(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.process = child;
    const output: string[] = [];
    await new Promise<void>((resolveStart, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line.trim() === '') continue;
          this.logger.debug({ component: 'embedded-postgres' }, line.trim());
          output.push(line.trim());
          if (output.length > 20) output.shift();
          if (line.includes(READY_LINE)) resolveStart();
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `PostgreSQL exited (${signal ?? `code ${code}`}) while starting: ${output.join(' | ')}`,
          ),
        ),
      );
    });
  }

  /** A fast shutdown: open transactions are rolled back, the cluster is left consistent. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    await exited;
  }
}

/** Makes a new cluster. The password reaches `initdb` through a file only the server can read. */
async function initialise(
  binaries: ServerBinaries,
  databaseDir: string,
  password: string,
  user: ServerUser | undefined,
): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'infq-initdb-'));
  const passwordFile = join(scratch, 'password');
  try {
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user) {
      chownSync(scratch, user.uid, user.gid);
      chownSync(passwordFile, user.uid, user.gid);
    }
    const child = spawn(
      binaries.initdb,
      [
        `--pgdata=${databaseDir}`,
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...user, env: serverEnvironment(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let output = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`initdb failed (code ${code}): ${output.trim()}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** PostgreSQL's processes get none of infq's environment (its secrets included). */
function serverEnvironment(): NodeJS.ProcessEnv {
  return { LC_ALL: 'C' };
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

/** A server left running by a process that was killed (SIGKILL) would block the data directory. */
function stopOrphan(databaseDir: string, dataDir: string, logger: Logger): void {
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale pid file: PostgreSQL cleans it up itself
  }
  const owner = liveOwner(pid);
  if (owner !== undefined) {
    throw new ConfigError(
      `DATA_DIR ${dataDir} is in use by another infq process (pid ${owner}): stop it, or give this one a DATA_DIR of its own.`,
    );
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

/**
 * The process that started PostgreSQL `pid`, if it is still running and is a Node process: an
 * infq using that cluster now (a killed infq's server is re-parented to init). Linux only.
 */
function liveOwner(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid …; comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid) || ppid <= 1 || ppid === process.pid) return undefined;
    const command = readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0')[0];
    return /(^|\/)node[\d.]*$/.test(command) ? ppid : undefined;
  } catch {
    return undefined;
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
