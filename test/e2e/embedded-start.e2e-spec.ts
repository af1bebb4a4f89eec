import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InfqProcess } from '../support/infq-process.js';

/** PostgreSQL server processes whose data directory is under `dataDir`. */
function postgresProcessesUnder(dataDir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes('postgres') && line.includes(dataDir));
}

describe('zero-install start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'infq-embedded-'));
  // mkdtemp makes it private to root; run as root, PostgreSQL runs as its own user.
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it(
    'starts with no configuration on an embedded PostgreSQL, keeps data across restarts and leaves no orphan',
    { timeout: 120_000 },
    async () => {
      // Nothing but DATA_DIR (and a free port): no DATABASE_URL, no REDIS_URL.
      // A first start runs initdb: slow on a loaded 2-core machine.
      let infq = await InfqProcess.start(
        { DATA_DIR: dataDir, ADMIN_TOKEN: 'embedded-admin-token-0000', LOG_LEVEL: 'warn' },
        90_000,
      );
      const health = await (await fetch(`${infq.url}/health`)).json();
      expect(health).toMatchObject({
        status: 'ok',
        database: 'ok',
        queue: { backend: 'postgres' },
      });
      const admin = {
        authorization: 'Bearer embedded-admin-token-0000',
        'content-type': 'application/json',
      };
      expect(
        (
          await fetch(`${infq.url}/admin/api/tenants`, {
            method: 'POST',
            headers: admin,
            body: '{"name":"kept"}',
          })
        ).status,
      ).toBe(201);
      expect(postgresProcessesUnder(dataDir).length).toBeGreaterThan(0);

      await infq.kill('SIGTERM');
      expect(infq.child.exitCode).toBe(0);
      expect(postgresProcessesUnder(dataDir)).toEqual([]);

      infq = await InfqProcess.start({
        DATA_DIR: dataDir,
        ADMIN_TOKEN: 'embedded-admin-token-0000',
        LOG_LEVEL: 'warn',
      });
      const tenants = await (
        await fetch(`${infq.url}/admin/api/tenants`, { headers: admin })
      ).json();
      expect(tenants.data.map((tenant: { name: string }) => tenant.name)).toEqual(['kept']);
      await infq.kill('SIGINT');
      expect(postgresProcessesUnder(dataDir)).toEqual([]);
    },
  );

  it.runIf(process.getuid?.() === 0)(
    'run as root with DATA_DIR in a directory the postgres user cannot enter, keeps its cluster where that user can, linked from DATA_DIR',
    { timeout: 120_000 },
    async () => {
      // mkdtemp's mode 0700: the postgres user cannot enter it, as under /root.
      const privateDir = mkdtempSync(join(tmpdir(), 'infq-private-'));
      const privateData = join(privateDir, 'data');
      let cluster: string | undefined;
      try {
        const infq = await InfqProcess.start(
          { DATA_DIR: privateData, ADMIN_TOKEN: 'embedded-admin-token-0000', LOG_LEVEL: 'warn' },
          90_000,
        );
        cluster = readlinkSync(join(privateData, 'postgres'));
        expect(cluster).toMatch(/^\/var\/lib\/infq\/postgres-[0-9a-f]{16}$/);
        expect(await (await fetch(`${infq.url}/health`)).json()).toMatchObject({
          status: 'ok',
          database: 'ok',
        });
        expect(postgresProcessesUnder(cluster).length).toBeGreaterThan(0);
        await infq.kill('SIGTERM');
        expect(infq.child.exitCode).toBe(0);
        expect(postgresProcessesUnder(cluster)).toEqual([]);
        expect(existsSync(join(cluster, 'PG_VERSION'))).toBe(true);
      } finally {
        rmSync(privateDir, { recursive: true, force: true });
        if (cluster) rmSync(cluster, { recursive: true, force: true });
      }
    },
  );

  it(
    'refuses, in one line, a DATA_DIR another infq is using, and leaves that one serving; once it is killed, the next start stops its server',
    { timeout: 120_000 },
    async () => {
      const first = await InfqProcess.start(
        { DATA_DIR: dataDir, ADMIN_TOKEN: 'embedded-admin-token-0000', LOG_LEVEL: 'warn' },
        90_000,
      );
      try {
        const second = spawnSync(
          process.execPath,
          [join(import.meta.dirname, '../../dist/src/main.js')],
          {
            env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' },
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        expect(second.status, second.stderr).toBe(78);
        expect(second.stderr.trim()).toBe(
          `DATA_DIR ${dataDir} is in use by another infq process (pid ${first.child.pid}): stop it, or give this one a DATA_DIR of its own.`,
        );
        expect(await (await fetch(`${first.url}/health`)).json()).toMatchObject({
          status: 'ok',
          database: 'ok',
        });
      } finally {
        await first.kill('SIGKILL');
      }
      // Its owner gone, the server left behind is stopped by the next infq, which starts.
      expect(postgresProcessesUnder(dataDir).length).toBeGreaterThan(0);
      const next = await InfqProcess.start(
        { DATA_DIR: dataDir, ADMIN_TOKEN: 'embedded-admin-token-0000', LOG_LEVEL: 'warn' },
        90_000,
      );
      expect(next.output.join('')).toContain('stopping an embedded PostgreSQL left behind');
      await next.kill('SIGTERM');
      expect(postgresProcessesUnder(dataDir)).toEqual([]);
    },
  );

  it('refuses to start on a bad value, naming the variable and the value', () => {
    const main = join(import.meta.dirname, '../../dist/src/main.js');
    const result = spawnSync(process.execPath, [main], {
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        PORT: 'eighty',
        BUS_NODES: 'http://a/v1=0',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('PORT="eighty"');
  });
});
