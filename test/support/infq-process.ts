import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach } from 'vitest';
import type { FakeBackend } from './fake-backend.js';
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  testEnv,
  type QueueBackendKind,
} from './infq-harness.js';

const MAIN = resolve(import.meta.dirname, '../../dist/src/main.js');

/** The built server (`npm run build`) as a child process, for tests that kill or restart it. */
export class InfqProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly output: string[],
  ) {}

  static async start(
    env: Record<string, string>,
    /** How long to wait for `/health`: an embedded PostgreSQL's first start takes a while. */
    startTimeoutMs = 30_000,
  ): Promise<InfqProcess> {
    const port = env.PORT && env.PORT !== '0' ? Number(env.PORT) : await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const url = `http://127.0.0.1:${port}`;
    const instance = new InfqProcess(child, url, output);
    try {
      await eventually(async () => {
        if (child.exitCode !== null)
          throw new Error(`infq exited ${child.exitCode}: ${output.join('')}`);
        const response = await fetch(`${url}/health`);
        if (response.status !== 200) throw new Error(`health ${response.status}`);
      }, startTimeoutMs);
    } catch (error) {
      // Not left running behind a failed test.
      await instance.kill();
      throw error;
    }
    return instance;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** A database and Redis prefix of one test's own, and the environment that points processes at them. */
export async function isolatedEnvironment(
  backend: QueueBackendKind,
  nodes: FakeBackend[],
  overrides: Record<string, string> = {},
): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  const database = await createTestDatabase();
  const prefix = `infqtest${randomBytes(4).toString('hex')}`;
  return {
    env: testEnv(backend, database.url, prefix, nodes, overrides),
    drop: async () => {
      await database.drop();
      if (backend === 'redis') await clearRedisPrefix(prefix);
    },
  };
}

/** Creates a tenant (with `limits`) and a key through the admin API of the server at `url`. */
export async function createTenantAt(
  url: string,
  limits?: Record<string, number>,
): Promise<{ id: string; key: string }> {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const name = `t-${randomBytes(4).toString('hex')}`;
  const tenant = await fetch(`${url}/admin/api/tenants`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name, ...(limits && { limits }) }),
  });
  if (tenant.status !== 201) throw new Error(`tenant not created: ${tenant.status}`);
  const { id } = await tenant.json();
  const key = await fetch(`${url}/admin/api/tenants/${id}/keys`, {
    method: 'POST',
    headers,
    body: '{}',
  });
  if (key.status !== 201) throw new Error(`key not issued: ${key.status}`);
  return { id, key: (await key.json()).key };
}

/**
 * A list the current test pushes clean-ups onto (processes, fake backends, databases); after
 * each test they run, newest first, so a process stops before its database is dropped.
 */
export function cleanupsAfterEach(): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
