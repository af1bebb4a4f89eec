import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
} from '../support/infq-harness.js';
import {
  BODY_BYTES_PER_TOKEN,
  DEFAULT_RESERVED_COMPLETION_TOKENS,
} from '../../src/limits/token-reservation.js';

const BUDGET = 50_000;
const REQUESTS = 200;
const MAX_TOKENS = 1_000;

/** The body infq's harness sends for `prompt` (`Infq.chat`), so its reservation is known. */
function chatBody(prompt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'fake-model', messages: [{ role: 'user', content: prompt }], ...extra };
}

/** What infq reserves for `body`: max_tokens (or the default) × n plus body bytes / 4. */
function reservationOf(body: Record<string, unknown>): number {
  const completion = (body.max_tokens as number | undefined) ?? DEFAULT_RESERVED_COMPLETION_TOKENS;
  const bytes = Buffer.byteLength(JSON.stringify(body));
  return (
    completion * ((body.n as number | undefined) ?? 1) + Math.ceil(bytes / BODY_BYTES_PER_TOKEN)
  );
}

interface Usage {
  tokens_today: number;
  tokens_reserved: number;
  open_jobs: number;
  queued_jobs: number;
}

export function describeReliabilityTokens(backend: QueueBackendKind): void {
  describe(`reliability 12: token budget races (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake]);
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    const usageOf = async (tenantId: string): Promise<Usage> => {
      const response = await infq.admin('GET', `/tenants/${tenantId}`);
      expect(response.status).toBe(200);
      return ((await response.json()) as { usage: Usage }).usage;
    };

    it('reliability 12: 200 concurrent 1k-token requests against a 50k budget overshoot it by at most one reservation', async () => {
      const tenant = await infq.createTenant({
        tokens_per_day: BUDGET,
        rpm: 100_000,
        max_concurrent: 20,
        max_queued: 1_000,
      });
      const body = chatBody('reliability-12 burst', { max_tokens: MAX_TOKENS });
      const reservation = reservationOf(body);
      // Harsh: every job uses all it reserved.
      fake.script('reliability-12 burst', { type: 'ok', delayMs: 50, totalTokens: reservation });
      const history = await Promise.all(
        Array.from({ length: REQUESTS }, async (_, index) => {
          const sentAt = Date.now();
          const response = await infq.chat(tenant.key, 'reliability-12 burst', {
            max_tokens: MAX_TOKENS,
          });
          const text = await response.text();
          const parsed = JSON.parse(text) as { id?: string; error?: { code: string } };
          return {
            index,
            sentAt,
            answeredAt: Date.now(),
            status: response.status,
            id: parsed.id,
            code: parsed.error?.code,
          };
        }),
      );
      const admitted = history.filter((entry) => entry.status === 202);
      const refused = history.filter((entry) => entry.status === 429);
      expect(admitted.length + refused.length).toBe(REQUESTS);
      expect(new Set(refused.map((entry) => entry.code))).toEqual(
        new Set(['daily_token_limit_exceeded']),
      );
      // Every admitted job ends (none lost) and is charged what it used.
      const finals = await Promise.all(
        admitted.map((entry) => infq.jobFinal(tenant.key, entry.id!, 60_000)),
      );
      expect(finals.filter((job) => job.status === 'complete')).toHaveLength(admitted.length);
      const usage = await eventually(async () => {
        const current = await usageOf(tenant.id);
        expect(current).toMatchObject({ tokens_reserved: 0, open_jobs: 0, queued_jobs: 0 });
        return current;
      });
      expect(admitted.length * reservation).toBeLessThanOrEqual(BUDGET + reservation);
      expect(usage.tokens_today).toBe(admitted.length * reservation);
      expect(usage.tokens_today).toBeLessThanOrEqual(BUDGET + reservation);
      // Admission stops only at the budget: the last one got in below it.
      expect((admitted.length - 1) * reservation).toBeLessThan(BUDGET);
      const after = await infq.chat(tenant.key, 'reliability-12 after');
      expect(after.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      await expectOpenAiError(after, 429, 'daily_token_limit_exceeded');
      console.info(
        `reliability 12 (${backend}): ${admitted.length} of ${REQUESTS} admitted at ` +
          `${reservation} tokens reserved each; tokens_today ${usage.tokens_today} ` +
          `(budget ${BUDGET}, at most ${BUDGET + reservation})`,
      );
    });

    it('reliability 12: a stream dropped before its usage chunk is charged its reservation', async () => {
      const tenant = await infq.createTenant({ tokens_per_day: 1_000_000, rpm: 100_000 });
      fake.script('reliability-12 dropped', {
        type: 'stream',
        tokens: Array.from({ length: 100 }, (_, index) => ` t${index}`),
        intervalMs: 100,
        totalTokens: 150,
      });
      const extra = { stream: true, max_tokens: 500 };
      const reservation = reservationOf(chatBody('reliability-12 dropped', extra));
      const response = await infq.chat(tenant.key, 'reliability-12 dropped', extra);
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain('chat.completion.chunk');
      await reader.cancel();
      await fake.waitForAbort((request) => request.prompt.includes('reliability-12 dropped'));
      const dropped = await eventually(async () => {
        const current = await usageOf(tenant.id);
        expect(current).toMatchObject({ tokens_reserved: 0, open_jobs: 0 });
        return current.tokens_today;
      });
      expect(dropped).toBe(reservation);

      // Dropped before its first byte: the backend may have begun, so it is charged too.
      fake.script('reliability-12 silent', { type: 'hang' });
      const silent = chatBody('reliability-12 silent', extra);
      const client = new AbortController();
      const pending = infq
        .fetch('/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.key}` },
          json: silent,
          signal: client.signal,
        })
        .catch(() => undefined);
      await fake.waitForRequest((request) => request.prompt.includes('reliability-12 silent'));
      client.abort();
      expect(await pending).toBeUndefined();
      await fake.waitForAbort((request) => request.prompt.includes('reliability-12 silent'));
      const usage = await eventually(async () => {
        const current = await usageOf(tenant.id);
        expect(current).toMatchObject({
          tokens_today: reservation + reservationOf(silent),
          tokens_reserved: 0,
          open_jobs: 0,
        });
        return current;
      });
      console.info(
        `reliability 12 (${backend}): a stream dropped after its first chunk charged ${dropped} ` +
          `(its reservation; the backend would have reported 150), one dropped before its ` +
          `first byte ${usage.tokens_today - dropped}`,
      );
    });

    it('reliability 12: absurd n and max_tokens get 400 and hold nothing', async () => {
      const tenant = await infq.createTenant({ tokens_per_day: BUDGET, rpm: 100_000 });
      const hugeN = await infq.chat(tenant.key, 'reliability-12 absurd', { n: 10_000 });
      expect((await expectOpenAiError(hugeN, 400, 'invalid_value')).param).toBe('n');
      const hugeMax = await infq.chat(tenant.key, 'reliability-12 absurd', {
        max_tokens: 1_000_000_000,
      });
      expect((await expectOpenAiError(hugeMax, 400, 'invalid_value')).param).toBe('max_tokens');
      const hugeCompletion = await infq.chat(tenant.key, 'reliability-12 absurd', {
        stream: true,
        max_completion_tokens: 1_000_000_000,
      });
      expect((await expectOpenAiError(hugeCompletion, 400, 'invalid_value')).param).toBe(
        'max_completion_tokens',
      );
      expect(await usageOf(tenant.id)).toMatchObject({
        requests_this_minute: 0,
        tokens_today: 0,
        tokens_reserved: 0,
        open_jobs: 0,
        queued_jobs: 0,
      });
      expect(fake.completions('reliability-12 absurd')).toHaveLength(0);
    });
  });
}
