import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually } from '../support/infq-harness.js';
import { InfqProcess } from '../support/infq-process.js';

const ADMIN = 'embedded-admin-token-0000';
const JOBS = 20;

function postgresProcessesUnder(dataDir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes('postgres') && line.includes(dataDir));
}

describe('reliability 6: the embedded PostgreSQL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'infq-reliability-embedded-'));
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it(
    'has a random password kept in DATA_DIR with mode 0600, and is restarted when its server is killed, losing nothing',
    { timeout: 300_000 },
    async () => {
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 200 } });
      const infq = await InfqProcess.start(
        {
          DATA_DIR: dataDir,
          ADMIN_TOKEN: ADMIN,
          BUS_NODES: fake.url,
          RETRY_BASE_MS: '100',
          RETRY_MAX_MS: '1000',
          LOG_LEVEL: 'info',
        },
        120_000,
      );
      try {
        const passwordFile = join(dataDir, 'postgres-password');
        expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
        expect(readFileSync(passwordFile, 'utf8').trim()).toMatch(/^[0-9a-f]{48}$/);

        const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
        const tenant = (await (
          await fetch(`${infq.url}/admin/api/tenants`, {
            method: 'POST',
            headers: admin,
            body: JSON.stringify({ name: 'kept', limits: { rpm: 1000, max_concurrent: 100 } }),
          })
        ).json()) as { id: string };
        const { key } = (await (
          await fetch(`${infq.url}/admin/api/tenants/${tenant.id}/keys`, {
            method: 'POST',
            headers: admin,
            body: '{"name":"k"}',
          })
        ).json()) as { key: string };
        const ids: string[] = [];
        for (let index = 0; index < JOBS; index++) {
          const response = await fetch(`${infq.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'fake-model',
              messages: [{ role: 'user', content: `job ${index}` }],
            }),
          });
          expect(response.status).toBe(202);
          ids.push(((await response.json()) as { id: string }).id);
        }

        const pid = Number(
          readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0],
        );
        process.kill(pid, 'SIGKILL');
        const killedAt = performance.now();
        const readPid = (): number =>
          Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
        // A health answer cached from before the kill proves nothing: wait for the new server.
        await eventually(
          () => expect(readPid(), `infq said:\n${infq.output.join('')}`).not.toBe(pid),
          60_000,
        );
        await eventually(async () => {
          const health = await fetch(`${infq.url}/health`);
          const body = (await health.json()) as { database?: string };
          expect(health.status).toBe(200);
          expect(body.database).toBe('ok');
        }, 60_000);
        const recoveredMs = performance.now() - killedAt;

        // A job whose attempt or listing was cut by the kill comes back through its lease (30 s)
        // or the parked-jobs reconciler (every 60-70 s): allow both.
        const finals = await Promise.all(
          ids.map((id) =>
            eventually(async () => {
              const job = (await (
                await fetch(`${infq.url}/v1/results/${id}`, {
                  headers: { authorization: `Bearer ${key}` },
                })
              ).json()) as { status: string };
              if (!['complete', 'dead', 'cancelled'].includes(job.status)) {
                throw new Error(`job ${id} is ${job.status}`);
              }
              return job.status;
            }, 150_000),
          ),
        );
        expect(finals).toEqual(ids.map(() => 'complete'));
        if (process.env.RELIABILITY_REPORT) {
          console.info(
            `reliability 6: /health ok again ${Math.round(recoveredMs)} ms after the kill; ` +
              `${JOBS} of ${JOBS} accepted jobs complete`,
          );
        }
      } finally {
        await infq.kill('SIGTERM');
        await fake.close();
      }
      expect(postgresProcessesUnder(dataDir)).toEqual([]);
    },
  );
});
