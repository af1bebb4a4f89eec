import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { eventually } from './infq-harness.js';
import { freePort } from './infq-process.js';

/**
 * A redis-server of one test's own, in a temp directory, for tests that kill, pause or reconfigure
 * it: never do that to the shared test Redis.
 */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  /** Starts with `args` added to the port and directory (e.g. `--appendonly yes`). */
  static async start(args: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(
      await freePort(),
      await mkdtemp(join(tmpdir(), 'infq-redis-')),
      args,
    );
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port and directory (AOF and all), once it answers. */
  async restart(): Promise<void> {
    if (this.isRunning()) throw new Error('redis-server is still running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...this.args],
      { stdio: 'ignore' },
    );
    this.child = child;
    // PING answers LOADING until the AOF is read back.
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
      const client = this.client({ lazyConnect: true, retryStrategy: () => null });
      try {
        await client.connect();
        await client.ping();
      } finally {
        client.disconnect();
      }
    }, 20_000);
  }

  /** Kills the server (SIGKILL by default) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning()) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** A client of its own (the caller disconnects it). */
  client(options: Record<string, unknown> = {}): Redis {
    const client = new Redis({ host: '127.0.0.1', port: this.port, ...options });
    client.on('error', () => undefined);
    return client;
  }

  /** Stops the server and removes its directory. */
  async remove(): Promise<void> {
    await this.kill('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }

  private isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && !this.child.signalCode;
  }
}

/**
 * A PostgreSQL cluster of one test's own (initdb in a temp directory, trust authentication), for
 * tests that restart or kill it: never do that to the shared test PostgreSQL. As root it runs
 * as the `postgres` user, which owns the directory.
 */
export class PostgresCluster {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {}

  static async start(): Promise<PostgresCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'infq-pg-'));
    const user = process.getuid?.() === 0 ? postgresUser() : undefined;
    if (user) chownSync(dir, user.uid, user.gid);
    const cluster = new PostgresCluster(await freePort(), dir, user);
    cluster.pgCtl([
      'initdb',
      '-s',
      '-o',
      '--auth=trust --username=postgres --no-sync --no-instructions',
    ]);
    // Two infq processes, each with several pools, run past the default of 100 connections.
    // fsync is off: a restart of the server (not of the machine) loses nothing either way.
    const options = `-p ${cluster.port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=300 -c fsync=off`;
    cluster.pgCtl(['start', '-w', '-s', '-l', join(dir, 'log'), '-o', options]);
    const admin = new pg.Client({ connectionString: cluster.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE infq');
    await admin.end();
    return cluster;
  }

  /** The URL of `database` on this cluster (infq's is `infq`). */
  url(database = 'infq'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /**
   * `pg_ctl restart -m fast`: every connection is ended, the server stops and starts again.
   * Resolves once it accepts connections again.
   */
  restart(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        pgCtlPath(),
        ['restart', '-m', 'fast', '-w', '-s', '-D', this.dataDir, '-l', join(this.dir, 'log')],
        { stdio: ['ignore', 'ignore', 'pipe'], ...this.user },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}: ${stderr}`)),
      );
    });
  }

  /** Stops the server at once and removes its directory. */
  async remove(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) {
      this.pgCtl(['stop', '-m', 'immediate', '-w', '-s']);
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private pgCtl(args: string[]): void {
    execFileSync(pgCtlPath(), [...args.slice(0, 1), '-D', this.dataDir, ...args.slice(1)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...this.user,
    });
  }
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

/** `pg_ctl` on the PATH, else in the newest /usr/lib/postgresql/<version>/bin. */
function pgCtlPath(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'pg_ctl'))) return join(dir, 'pg_ctl');
  }
  const versions = existsSync('/usr/lib/postgresql')
    ? execFileSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }).split('\n').filter(Boolean)
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('pg_ctl not found: install PostgreSQL');
  return join('/usr/lib/postgresql', newest, 'bin', 'pg_ctl');
}
