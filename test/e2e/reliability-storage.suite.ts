import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeRequest } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';
import { cleanupsAfterEach, freePort } from '../support/infq-process.js';

const MIB = 1_048_576;
// `npm run test:chaos` (INFQ_CHAOS=1) plants RELIABILITY.md's 300 requests under a 32 MiB cap.
const CHAOS = process.env.INFQ_CHAOS === '1';
const PLANTED = CHAOS ? 300 : 40;
const CAP_BYTES = (CHAOS ? 32 : 8) * MIB;
const SENDERS = 4;
const FILLER_BYTES = 32 * MIB;
// A request of about 1 MiB that stays under MAX_BODY_BYTES (1 MiB) with its JSON around it.
const PADDING = 'x'.repeat(MIB - 1_024);

interface Sent {
  index: number;
  status: number;
  jobId: string | null;
}

/** One dead letter as the admin API lists it. */
interface DeadLetterItem {
  id: string;
  tenant_id: string;
  request: { messages: { content: string }[] };
}

/** Every dead letter of `tenantId` through the admin API, page by page. */
async function deadLettersOf(infq: Infq, tenantId: string): Promise<DeadLetterItem[]> {
  const items: DeadLetterItem[] = [];
  let cursor: string | null = '0';
  while (cursor !== null) {
    const response = await infq.admin(
      'GET',
      `/dead-letters?tenant=${tenantId}&limit=100&cursor=${cursor}`,
    );
    expect(response.status).toBe(200);
    const page = (await response.json()) as { data: DeadLetterItem[]; next_cursor: string | null };
    items.push(...page.data);
    cursor = page.next_cursor;
  }
  return items;
}

/** A 1 MiB request; its marker (`#index`) comes first so the fake backend's 400 script matches. */
function bigPrompt(marker: string, index: number): string {
  return `${marker} #${index} ${PADDING}`;
}

/** The stored request's size, as the cap counts it (the client's JSON text). */
function requestBytes(item: DeadLetterItem): number {
  return Buffer.byteLength(JSON.stringify(item.request));
}

/** `GET /v1/results/:id`: the job's status, or 'gone' once removed. */
async function statusOf(infq: Infq, key: string, id: string): Promise<string> {
  const response = await infq.fetch(`/v1/results/${id}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  if (response.status === 404) return 'gone';
  expect(response.status).toBe(200);
  return ((await response.json()) as { status: string }).status;
}

/** A Redis server of the test's own, full at 64 MiB and never evicting, removed afterwards. */
async function startFullableRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'infq-redis-full-'));
  const server: ChildProcess = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
      ...['--save', '', '--appendonly', 'no'],
      ...['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'],
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  await probe.ping();
  probe.disconnect();
  return {
    url,
    stop: async () => {
      if (server.exitCode === null) {
        const exited = once(server, 'exit');
        server.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function describeReliabilityStorage(backend: QueueBackendKind): void {
  describe(`reliability 11: stored bytes per tenant and a full store (${backend} backend)`, () => {
    const cleanups = cleanupsAfterEach();

    it(
      `a tenant whose ${PLANTED} requests of 1 MiB all die keeps at most DEAD_LETTER_BYTES_PER_TENANT of them, the newest`,
      { timeout: CHAOS ? 300_000 : 60_000 },
      async () => {
        const fake = await FakeBackend.start();
        cleanups.push(() => fake.close());
        // The fake keeps every request it saw; these are 1 MiB each.
        fake.on('request', () => fake.requests.splice(0));
        const infq = await Infq.start(backend, [fake], {
          DEAD_LETTER_BYTES_PER_TENANT: String(CAP_BYTES),
        });
        cleanups.push(() => infq.close());
        const planter = await infq.createTenant({ rpm: 100_000, max_queued: 100_000 });
        const neighbour = await infq.createTenant();
        fake.script('rel11-dead', { type: 'status', status: 400, message: 'bad request' });
        // The order the backend answered the planted requests (each dies at its first answer):
        // the order their deaths are recorded in, give or take jobs ending at the same moment.
        const answered: number[] = [];
        fake.on('finished', (request: FakeRequest) => {
          const planted = /^rel11-dead #(\d+) /.exec(request.prompt);
          if (planted) answered.push(Number(planted[1]));
        });

        // The neighbour's own dead letters, before the flood.
        const neighbourIds: string[] = [];
        for (let index = 0; index < 3; index++) {
          neighbourIds.push(await infq.submit(neighbour.key, `rel11-dead neighbour ${index}`));
        }
        for (const id of neighbourIds) {
          await infq.jobUntil(neighbour.key, id, (job) => job.status === 'dead', 30_000);
        }

        const started = Date.now();
        const sent: Sent[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: SENDERS }, async () => {
            while (next < PLANTED) {
              const index = next++;
              const response = await infq.chat(planter.key, bigPrompt('rel11-dead', index));
              const body = (await response.json()) as { id?: string };
              sent.push({ index, status: response.status, jobId: body.id ?? null });
            }
          }),
        );
        const sendMs = Date.now() - started;
        expect(sent.filter((entry) => entry.status !== 202)).toEqual([]);
        const ids = sent.sort((a, b) => a.index - b.index).map((entry) => entry.jobId!);

        // Every accepted job ends dead; those past the cap are then removed.
        await eventually(async () => {
          const open: string[] = [];
          for (const id of ids) {
            const status = await statusOf(infq, planter.key, id);
            if (status !== 'dead' && status !== 'gone') open.push(`${id} ${status}`);
          }
          expect(open).toEqual([]);
        }, 120_000);
        const settledMs = Date.now() - started;

        const kept = await deadLettersOf(infq, planter.id);
        const keptBytes = kept.reduce((sum, item) => sum + requestBytes(item), 0);
        console.info(
          `reliability 11 (${backend}): ${PLANTED} × 1 MiB sent in ${sendMs} ms, all final in ${settledMs} ms; kept ${kept.length} dead letters, ${(keptBytes / MIB).toFixed(1)} MiB of a ${CAP_BYTES / MIB} MiB cap`,
        );
        expect(keptBytes).toBeLessThanOrEqual(CAP_BYTES);
        // The cap, not less: it keeps as many as fit.
        expect(keptBytes).toBeGreaterThan(CAP_BYTES - 2 * MIB);
        // The newest are kept: all among the later half to die (by the backend's answers; the
        // order sent is not it: some jobs take the dispatcher's fast path, others wait in line).
        expect(answered).toHaveLength(PLANTED);
        const newest = new Set(
          answered.slice(-Math.max(kept.length + 2 * SENDERS, PLANTED / 2)).map((i) => ids[i]),
        );
        expect(kept.filter((item) => !newest.has(item.id)).map((item) => item.id)).toEqual([]);
        // The oldest are gone, not only unlisted.
        expect(await statusOf(infq, planter.key, ids[answered[0]])).toBe('gone');
        // The neighbour's dead letters are untouched.
        for (const id of neighbourIds) {
          expect(await statusOf(infq, neighbour.key, id)).toBe('dead');
        }
        expect((await deadLettersOf(infq, neighbour.id)).map((item) => item.id).sort()).toEqual(
          [...neighbourIds].sort(),
        );
      },
    );

    if (backend !== 'redis') return;

    it(
      'a Redis full at maxmemory (noeviction) answers 503, never 202 or 500, loses no job, and recovers once space frees',
      { timeout: 180_000 },
      async () => {
        const redisServer = await startFullableRedis();
        cleanups.push(() => redisServer.stop());
        const filler = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
        cleanups.push(() => Promise.resolve(filler.disconnect()));
        // Space the test frees later, 32 MiB of its own: the rest fills with about 20 requests.
        // Written 1 MiB at a time: one 32 MiB command would take as much again in its buffer.
        for (let written = 0; written < FILLER_BYTES; written += MIB) {
          await filler.append('rel11:filler', 'f'.repeat(MIB));
        }
        const fake = await FakeBackend.start();
        cleanups.push(() => fake.close());
        fake.on('request', () => fake.requests.splice(0));
        fake.script('rel11-full', { type: 'status', status: 400, message: 'bad request' });
        const infq = await Infq.start('redis', [fake], {
          REDIS_URL: redisServer.url,
          // Far above what fits: here the store fills with dead letters.
          DEAD_LETTER_BYTES_PER_TENANT: String(1_024 * MIB),
        });
        cleanups.push(() => infq.close());
        const tenant: TenantWithKey = await infq.createTenant({
          rpm: 100_000,
          max_queued: 100_000,
        });

        const sent: Sent[] = [];
        const send = async (index: number): Promise<Response> => {
          const response = await infq.chat(tenant.key, bigPrompt('rel11-full', index));
          const body = (await response.clone().json()) as { id?: string };
          sent.push({ index, status: response.status, jobId: body.id ?? null });
          return response;
        };
        // Fill: 1 MiB at a time until the store refuses.
        const started = Date.now();
        let firstRefusal: Response | undefined;
        for (let index = 0; index < 200 && !firstRefusal; index++) {
          const response = await send(index);
          expect([202, 503]).toContain(response.status);
          if (response.status === 503) firstRefusal = response;
        }
        const fullMs = Date.now() - started;
        expect(firstRefusal, 'the store never filled').toBeDefined();
        expect(firstRefusal!.headers.get('retry-after')).toMatch(/^\d+$/);
        await expectOpenAiError(firstRefusal!, 503, 'service_unavailable');
        const accepted = sent.filter((entry) => entry.status === 202);

        // While full: every mode refuses the same way, and nothing is half-written.
        const info = await filler.info('memory');
        const usedMb = Number(/used_memory:(\d+)/.exec(info)![1]) / MIB;
        for (let index = 0; index < 5; index++) {
          const response = await send(1_000 + index);
          expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
          await expectOpenAiError(response, 503, 'service_unavailable');
        }
        const waited = await infq.chat(
          tenant.key,
          bigPrompt('rel11-full', 2_000),
          {},
          {
            prefer: 'wait=5',
          },
        );
        await expectOpenAiError(waited, 503, 'service_unavailable');
        // An `Idempotency-Key` is claimed in Redis before admission: refused the same way.
        const keyed = await infq.chat(
          tenant.key,
          bigPrompt('rel11-full', 2_500),
          {},
          { 'idempotency-key': 'rel11-full-keyed' },
        );
        expect(keyed.headers.get('retry-after')).toMatch(/^\d+$/);
        await expectOpenAiError(keyed, 503, 'service_unavailable');
        const streamed = await infq.chat(tenant.key, bigPrompt('rel11-full', 3_000), {
          stream: true,
        });
        // A stream stores nothing in the queue: it may still be served, but never a 202 or 500.
        const streamedStatus = streamed.status;
        await streamed.arrayBuffer();
        expect([202, 500]).not.toContain(streamedStatus);
        const requeue = await infq.admin('POST', `/jobs/${accepted[0].jobId}/retry`);
        expect(requeue.status).not.toBe(500);
        const requeueStatus = requeue.status;
        await requeue.arrayBuffer();

        // Space frees: the next request is accepted, without a restart.
        const freedAt = Date.now();
        await filler.del('rel11:filler');
        const recovered = await eventually(async () => {
          const response = await send(4_000);
          expect(response.status).toBe(202);
          return response;
        }, 30_000);
        const recoveryMs = Date.now() - freedAt;
        expect(recovered.status).toBe(202);

        // No accepted job lost: every 202 is still readable; under INFQ_CHAOS=1, each also ends dead
        // (workers retry a refused final move every 15 s, BullMQ's runRetryDelay: about a minute).
        const acceptedIds = sent.filter((entry) => entry.status === 202).map((e) => e.jobId!);
        expect(sent.filter((entry) => entry.status !== 202 && entry.status !== 503)).toEqual([]);
        for (const id of acceptedIds) expect(await statusOf(infq, tenant.key, id)).not.toBe('gone');
        let finalMs = -1;
        if (CHAOS) {
          finalMs = await eventually(async () => {
            const open: string[] = [];
            for (const id of acceptedIds) {
              const status = await statusOf(infq, tenant.key, id);
              if (status !== 'dead') open.push(`${id} ${status}`);
            }
            expect(open).toEqual([]);
            return Date.now() - freedAt;
          }, 120_000);
        }
        console.info(
          `reliability 11 (redis full): ${accepted.length} × 1 MiB accepted before the first 503 (${fullMs} ms, used_memory ${usedMb.toFixed(1)} MiB); while full: queued, wait and admin requeue ${requeueStatus}, stream ${streamedStatus}; 202 again ${recoveryMs} ms after ${FILLER_BYTES / MIB} MiB freed; ${acceptedIds.length} accepted, 0 lost${finalMs >= 0 ? `, all dead ${finalMs} ms after` : ''}`,
        );
      },
    );
  });
}
