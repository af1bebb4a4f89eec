import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { Infq, type QueueBackendKind, type TenantWithKey } from '../support/infq-harness.js';

const MAX_RESULT_BYTES = 8 * 1024 * 1024;
const HUGE_BYTES = 300 * 1024 * 1024;

/** Samples the heap every 50 ms while `work` runs; returns the largest growth seen. */
async function heapGrowthDuring(work: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return peak - before;
}

export function describeReliabilityAnswers(backend: QueueBackendKind): void {
  describe(`a node that does not answer in time (${backend} backend)`, () => {
    it('gives up after UPSTREAM_TIMEOUT_MS, and the retry completes', async () => {
      const fake = await FakeBackend.start();
      const infq = await Infq.start(backend, [fake], { UPSTREAM_TIMEOUT_MS: '500' });
      try {
        const tenant = await infq.createTenant();
        fake.script('slow-answer', { type: 'hang' }, { type: 'ok', content: 'late but fine' });
        const id = await infq.submit(tenant.key, 'slow-answer');
        const job = await infq.jobFinal(tenant.key, id, 30_000);
        expect(job).toMatchObject({ status: 'complete', retries: 1 });
        expect(fake.completions('slow-answer')).toHaveLength(2);
      } finally {
        await infq.close();
        await fake.close();
      }
    });
  });

  describe(`reliability 8: poison answers (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let tenant: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake]);
      tenant = await infq.createTenant();
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it('a 300 MB answer fails its job once, with a readable error, reading no more than the cap', async () => {
      fake.script('huge-answer', { type: 'huge', bytes: HUGE_BYTES });
      let id = '';
      const growth = await heapGrowthDuring(async () => {
        id = await infq.submit(tenant.key, 'huge-answer');
        const job = await infq.jobFinal(tenant.key, id, 60_000);
        expect(job.status).toBe('dead');
        expect(job.error).toContain('too large');
        expect(job.error).toContain('MAX_RESULT_BYTES');
        expect(job.error).not.toContain('127.0.0.1');
      });
      const calls = fake.completions('huge-answer');
      // Not retried: the same request would only send the same answer again.
      expect(calls).toHaveLength(1);
      // The connection is dropped at the cap: the backend never got to write the rest.
      expect(calls[0].sentBytes).toBeLessThan(HUGE_BYTES / 4);
      expect(growth).toBeLessThan(8 * MAX_RESULT_BYTES);
      if (process.env.RELIABILITY_REPORT) {
        console.info(
          `reliability 8: 300 MB answer: 1 attempt, backend wrote ${calls[0].sentBytes} bytes ` +
            `before the drop, heap grew at most ${Math.round(growth / 1048576)} MiB`,
        );
      }
      expect((await infq.fetch('/health')).status).toBe(200);
    });

    it('a body that never ends fails its job like a too large one', async () => {
      fake.script('endless-answer', { type: 'endless', contentType: 'application/json' });
      const id = await infq.submit(tenant.key, 'endless-answer');
      const job = await infq.jobFinal(tenant.key, id, 60_000);
      expect(job.status).toBe('dead');
      expect(job.error).toContain('MAX_RESULT_BYTES');
      expect(fake.completions('endless-answer')).toHaveLength(1);
    });

    it('a 200 that is not JSON ends dead with a readable error', async () => {
      fake.script('not-json', {
        type: 'raw',
        status: 200,
        body: '<html>502 Bad Gateway from gpu-7.internal:8000</html>',
        contentType: 'text/html',
      });
      const id = await infq.submit(tenant.key, 'not-json');
      const job = await infq.jobFinal(tenant.key, id, 30_000);
      expect(job.status).toBe('dead');
      expect(job.error).toContain('invalid response');
    });

    it('an answer with NUL and lone surrogates completes, and its result is readable JSON', async () => {
      const answer =
        '{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",' +
        '"content":"a\\u0000b\\ud800c\\udfffd"},"finish_reason":"stop"}],"usage":{"total_tokens":5}}';
      fake.script('poison-text', { type: 'raw', status: 200, body: answer });
      const id = await infq.submit(tenant.key, 'poison-text');
      const job = await infq.jobFinal(tenant.key, id, 30_000);
      expect(job.status).toBe('complete');
      const content = (job.result as { choices: { message: { content: string } }[] }).choices[0]
        .message.content;
      expect(content.startsWith('a\u0000b')).toBe(true);
    });

    it('a stream that never ends an event is cut off, and the process stays up', async () => {
      fake.script('endless-stream', { type: 'endless' });
      const growth = await heapGrowthDuring(async () => {
        const response = await infq.chat(tenant.key, 'endless-stream', { stream: true });
        // Either refused before the first byte or ended early: in both cases it ends.
        const text = await response.text();
        expect(text.length).toBeLessThan(4 * 1024 * 1024);
      });
      expect(growth).toBeLessThan(64 * 1024 * 1024);
      const call = fake.completions('endless-stream')[0];
      expect(call.sentBytes).toBeLessThan(64 * 1024 * 1024);
      expect((await infq.fetch('/health')).status).toBe(200);
    });
  });
}
