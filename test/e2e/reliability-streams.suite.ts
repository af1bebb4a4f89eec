import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend, type FakeRequest } from '../support/fake-backend.js';
import { ADMIN_TOKEN, eventually, type QueueBackendKind } from '../support/infq-harness.js';
import { createTenantAt, InfqProcess, isolatedEnvironment } from '../support/infq-process.js';

const CHAOS = process.env.INFQ_CHAOS === '1';
const STREAMS = 100;
const WAVE = 25;
/** Every fourth stream is dropped before its first byte (its backend never answers). */
const EARLY_EVERY = 4;
const BIG_STREAM_BYTES = 20 * 1024 * 1024;
/** The slow reader: 100 bytes every 100 ms, for 15 s (CI) or 60 s (`INFQ_CHAOS=1`). */
const READ_BYTES = 100;
const READ_EVERY_MS = 100;
const READ_FOR_MS = CHAOS ? 60_000 : 15_000;
const MAX_RSS_GROWTH = 32 * 1024 * 1024;

interface Drop {
  index: number;
  early: boolean;
  /** Reads done before the drop (0: right after the headers). */
  reads: number;
  droppedAt: number;
  backend: FakeRequest;
}

/** The request the fake received for `marker`, once its connection has closed. */
async function closedRequest(fake: FakeBackend, marker: string): Promise<FakeRequest> {
  const request = await fake.waitForRequest((candidate) => candidate.prompt === marker);
  return eventually(() => {
    if (request.closedAt === undefined) throw new Error(`backend request ${marker} still open`);
    return request;
  }, 5_000);
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** VmRSS of a process, in bytes. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

export function describeReliabilityStreams(backend: QueueBackendKind): void {
  describe(`reliability 16: dropped and slow stream clients (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: InfqProcess;
    let drop: (() => Promise<void>) | undefined;

    // infq runs as a process of its own: the drops' latency is its event loop's, the slow
    // reader's RSS its memory, not the test's.
    beforeAll(async () => {
      fake = await FakeBackend.start();
      const environment = await isolatedEnvironment(backend, [fake]);
      drop = environment.drop;
      infq = await InfqProcess.start(environment.env, 60_000);
    });

    afterAll(async () => {
      await infq?.kill();
      await drop?.();
      await fake?.close();
    });

    const admin = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${infq.url}/admin/api${path}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as T;
    };

    /** POST /v1/chat/completions, streamed, with `prompt`. */
    const streamChat = (key: string, prompt: string, signal?: AbortSignal): Promise<Response> =>
      fetch(`${infq.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fake-model',
          stream: true,
          messages: [{ role: 'user', content: prompt }],
        }),
        ...(signal && { signal }),
      });

    it('reliability 16: 100 streams dropped at random points, some before the first byte: each backend request closed within 1 s, nothing held afterwards', async () => {
      const tenant = await createTenantAt(infq.url, { rpm: 100_000, max_concurrent: 200 });
      // 400 tokens 10 ms apart: every drop below comes before the stream could end.
      fake.script('r16-stream', {
        type: 'stream',
        tokens: Array.from({ length: 400 }, (_, index) => ` t${index}`),
        intervalMs: 10,
      });
      fake.script('r16-silent', { type: 'hang' });
      let seed = 16;
      const random = (): number => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
      const drops: Drop[] = [];
      const dropOne = async (index: number): Promise<Drop> => {
        const early = index % EARLY_EVERY === 0;
        const marker = `${early ? 'r16-silent' : 'r16-stream'} #${index}`;
        const target = early ? 0 : Math.floor(random() * 30);
        const client = new AbortController();
        const pending = streamChat(tenant.key, marker, client.signal);
        let reads = 0;
        let droppedAt: number;
        if (early) {
          await fake.waitForRequest((request) => request.prompt === marker);
          droppedAt = Date.now();
          client.abort();
          await pending.catch(() => undefined);
        } else {
          const response = await pending;
          expect(response.status).toBe(200);
          const reader = response.body!.getReader();
          while (reads < target && !(await reader.read()).done) reads++;
          droppedAt = Date.now();
          client.abort();
          await reader.cancel().catch(() => undefined);
        }
        return { index, early, reads, droppedAt, backend: await closedRequest(fake, marker) };
      };
      for (let start = 0; start < STREAMS; start += WAVE) {
        const wave = Array.from({ length: WAVE }, (_, offset) => dropOne(start + offset));
        drops.push(...(await Promise.all(wave)));
      }

      const closeMs = drops.map((drop) => drop.backend.closedAt! - drop.droppedAt);
      for (const drop of drops) {
        expect(drop.backend).toMatchObject({ aborted: true, socketClosed: true });
      }
      expect(Math.max(...closeMs)).toBeLessThanOrEqual(1_000);
      // Nothing left open: no backend request, no tenant slot or reservation, no node place.
      await eventually(async () => {
        expect(fake.inFlight).toBe(0);
        // The connection pool may open fresh connections after a destroyed one; they carry no
        // request and are bounded by its size (NODE_MAX_INFLIGHT 64, plus the probe's one).
        expect(fake.openSockets).toBeLessThanOrEqual(65);
        const view = await admin<{ usage: { open_jobs: number; tokens_reserved: number } }>(
          `/tenants/${tenant.id}`,
        );
        expect(view.usage).toMatchObject({ open_jobs: 0, tokens_reserved: 0 });
        const stats = await admin<{ nodes: { in_flight: number }[] }>('/stats');
        expect(stats.nodes.map((node) => node.in_flight)).toEqual([0]);
      }, 2_000);
      console.info(
        `reliability 16 (${backend}): ${drops.length} streams dropped ` +
          `(${drops.filter((drop) => drop.early).length} before the first byte, the rest after ` +
          `0–${Math.max(...drops.map((drop) => drop.reads))} reads); backend socket closed after ` +
          `p50 ${percentile(closeMs, 50)} ms, max ${Math.max(...closeMs)} ms; ` +
          `0 backend requests open; ${fake.openSockets} idle pooled connections carrying none`,
      );
    });

    it(
      'reliability 16: a client reading 1 KB/s holds the backend back and infq grows by at most 32 MB',
      { timeout: READ_FOR_MS + 60_000 },
      async () => {
        const tenant = await createTenantAt(infq.url, { rpm: 1_000 });
        fake.script('r16-big', { type: 'bigStream', bytes: BIG_STREAM_BYTES });
        fake.script('r16-warm', { type: 'bigStream', bytes: 2 * 1024 * 1024 });
        const pid = infq.child.pid!;
        // One stream read at full speed first, so the baseline has the streaming path warm.
        const warm = await streamChat(tenant.key, 'r16-warm');
        expect(await warm.text()).toContain('[DONE]');
        const before = rssOf(pid);

        const body = JSON.stringify({
          model: 'fake-model',
          stream: true,
          messages: [{ role: 'user', content: 'r16-big' }],
        });
        const request = httpRequest(`${infq.url}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${tenant.key}`,
            'content-type': 'application/json',
          },
        });
        request.end(body);
        const [response] = (await once(request, 'response')) as [IncomingMessage];
        expect(response.statusCode).toBe(200);
        response.pause();
        const upstream = await fake.waitForRequest((candidate) => candidate.prompt === 'r16-big');

        let read = 0;
        let peak = before;
        const until = Date.now() + READ_FOR_MS;
        while (Date.now() < until) {
          // A fixed pace: the client's reading rate is the scenario.
          await sleep(READ_EVERY_MS);
          const chunk = response.read(READ_BYTES) as Buffer | null;
          read += chunk?.length ?? 0;
          peak = Math.max(peak, rssOf(pid));
        }
        const sentWhileReading = upstream.sentBytes ?? 0;
        const growth = peak - before;
        expect(read).toBeGreaterThan(0);
        // Backpressure: the backend could write only what the buffers on the way hold.
        expect(upstream.finished).toBe(false);
        expect(sentWhileReading).toBeLessThan(BIG_STREAM_BYTES);
        expect(growth).toBeLessThanOrEqual(MAX_RSS_GROWTH);

        const droppedAt = Date.now();
        request.destroy();
        const closed = await closedRequest(fake, 'r16-big');
        expect(closed).toMatchObject({ aborted: true, socketClosed: true });
        expect(closed.closedAt! - droppedAt).toBeLessThanOrEqual(1_000);
        await eventually(async () => {
          expect(fake.inFlight).toBe(0);
          const view = await admin<{ usage: { open_jobs: number } }>(`/tenants/${tenant.id}`);
          expect(view.usage.open_jobs).toBe(0);
        }, 2_000);
        console.info(
          `reliability 16 (${backend}): slow reader took ${read} bytes in ${READ_FOR_MS / 1000} s; ` +
            `the backend wrote ${(sentWhileReading / 1024 / 1024).toFixed(1)} MB of ` +
            `${BIG_STREAM_BYTES / 1024 / 1024} MB; infq RSS ${(before / 1024 / 1024).toFixed(0)} MB, ` +
            `grew by ${(growth / 1024 / 1024).toFixed(1)} MB at most; backend socket closed ` +
            `${closed.closedAt! - droppedAt} ms after the drop`,
        );
      },
    );
  });
}
