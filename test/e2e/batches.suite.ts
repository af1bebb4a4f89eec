import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}

const FINAL = ['completed', 'failed', 'expired', 'cancelled'];

/** One JSONL input line asking the fake backend to echo `prompt`. */
function inputLine(customId: string, prompt: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'fake-model', messages: [{ role: 'user', content: prompt }] },
    ...extra,
  });
}

async function upload(client: OpenAI, lines: string[], name = 'input.jsonl') {
  return client.files.create({
    file: await toFile(Buffer.from(`${lines.join('\n')}\n`), name),
    purpose: 'batch',
  });
}

/** Polls the batch (every 100 ms) until `predicate` holds. */
async function batchUntil(
  client: OpenAI,
  id: string,
  predicate: (batch: Batch) => boolean,
  timeoutMs = 45_000,
): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (predicate(batch)) return batch;
    if (Date.now() > deadline) {
      throw new Error(`batch ${id} is ${batch.status} ${JSON.stringify(batch.request_counts)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const batchFinal = (client: OpenAI, id: string, timeoutMs?: number) =>
  batchUntil(client, id, (batch) => FINAL.includes(batch.status), timeoutMs);

async function readLines(client: OpenAI, fileId: string | null | undefined): Promise<OutputLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OutputLine);
}

/** OpenAI's Batch API through the official SDK, per queue backend; `lines` sizes the big batch. */
export function describeBatches(backend: QueueBackendKind, lines: number): void {
  describe(`batches (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let acme: TenantWithKey;
    let globex: TenantWithKey;
    let client: OpenAI;
    let other: OpenAI;

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      infq = await Infq.start(backend, [fake], {
        BATCH_MAX_BYTES: '1000000',
        BATCH_MAX_LINES: String(lines + 200),
        WORKER_CONCURRENCY: '16',
      });
      acme = await infq.createTenant();
      globex = await infq.createTenant();
      client = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: acme.key, maxRetries: 0 });
      other = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: globex.key, maxRetries: 0 });
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it('stores, lists, streams back and deletes an uploaded file', async () => {
      const input = [inputLine('a', 'file roundtrip é'), inputLine('b', 'second')];
      const file = await upload(client, input, 'roundtrip.jsonl');
      expect(file).toMatchObject({
        object: 'file',
        purpose: 'batch',
        filename: 'roundtrip.jsonl',
        status: 'processed',
        bytes: Buffer.byteLength(`${input.join('\n')}\n`),
      });
      expect(file.id).toMatch(/^file-/);
      expect(await client.files.retrieve(file.id)).toEqual(file);
      expect(await (await client.files.content(file.id)).text()).toBe(`${input.join('\n')}\n`);
      const listed = await client.files.list();
      expect(listed.data.map((f) => f.id)).toContain(file.id);
      expect(await client.files.delete(file.id)).toEqual({
        id: file.id,
        object: 'file',
        deleted: true,
      });
      await expect(client.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    });

    it(`runs a ${lines}-line batch to completed with one output line per custom_id`, async () => {
      const failing = new Set<number>();
      const flaky = new Set<number>();
      const input: string[] = [];
      for (let i = 0; i < lines; i++) {
        if (i % 50 === 7) {
          failing.add(i);
          fake.script(`[bad-${i}]`, { type: 'status', status: 400, message: 'scripted 400' });
        } else if (i % 50 === 13) {
          flaky.add(i);
          fake.script(`[flaky-${i}]`, { type: 'status', status: 503 }, { type: 'ok' });
        }
        const marker = failing.has(i) ? `[bad-${i}]` : flaky.has(i) ? `[flaky-${i}]` : '';
        input.push(inputLine(`req-${i}`, `big ${marker} line ${i}`));
      }
      const file = await upload(client, input);
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { purpose: 'e2e' },
      });
      expect(created).toMatchObject({
        object: 'batch',
        status: 'validating',
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { purpose: 'e2e' },
      });
      expect(created.id).toMatch(/^batch_/);

      const done = await batchFinal(client, created.id, 120_000);
      expect(done.status).toBe('completed');
      expect(done.request_counts).toEqual({
        total: lines,
        completed: lines - failing.size,
        failed: failing.size,
      });
      expect(done.in_progress_at).toBeGreaterThanOrEqual(done.created_at);
      expect(done.finalizing_at).not.toBeNull();
      expect(done.completed_at).not.toBeNull();

      const output = await readLines(client, done.output_file_id);
      expect(output).toHaveLength(lines - failing.size);
      expect(new Set(output.map((line) => line.custom_id)).size).toBe(output.length);
      for (const line of output) {
        const i = Number(line.custom_id.slice(4));
        expect(failing.has(i)).toBe(false);
        expect(line.error).toBeNull();
        expect(line.id).toMatch(/^batch_req_/);
        expect(line.response?.status_code).toBe(200);
        const body = line.response!.body as { choices: { message: { content: string } }[] };
        const marker = flaky.has(i) ? `[flaky-${i}]` : '';
        expect(body.choices[0].message.content).toBe(`echo: big ${marker} line ${i}`);
      }
      const errors = await readLines(client, done.error_file_id);
      expect(errors.map((line) => line.custom_id).sort()).toEqual(
        [...failing].map((i) => `req-${i}`).sort(),
      );
      for (const line of errors) {
        expect(line.response?.status_code).toBe(400);
        expect(line.response?.body).toMatchObject({ error: { message: expect.any(String) } });
      }
      // Each scripted-503 line went to the backend twice (503, then 200); the rest once.
      const sent = fake.completions(' line ').filter((request) => request.prompt.startsWith('big'));
      expect(sent).toHaveLength(lines + flaky.size);

      const listed = await client.batches.list({ limit: 10 });
      expect(listed.data.map((batch) => batch.id)).toContain(created.id);
    });

    it('fails a batch with bad lines at validation, naming each line, and runs nothing', async () => {
      const marker = `[never-${backend}]`;
      const input = [
        inputLine('ok-1', `${marker} fine`),
        '{"custom_id": "broken", ',
        inputLine('wrong-url', `${marker} x`, { url: '/v1/embeddings' }),
        inputLine('ok-1', `${marker} duplicate`),
        JSON.stringify({
          custom_id: 'no-model',
          method: 'POST',
          url: '/v1/chat/completions',
          body: { messages: [{ role: 'user', content: `${marker} y` }] },
        }),
      ];
      const file = await upload(client, input);
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      const done = await batchFinal(client, batch.id);
      expect(done.status).toBe('failed');
      expect(done.failed_at).not.toBeNull();
      expect(done.errors?.object).toBe('list');
      expect(done.errors?.data?.map((error) => [error.line, error.code])).toEqual([
        [2, 'invalid_json_line'],
        [3, 'invalid_url'],
        [4, 'duplicate_custom_id'],
        [5, 'missing_required_parameter'],
      ]);
      for (const error of done.errors?.data ?? []) expect(error.message).toMatch(/^Line \d+: /);
      expect(done.output_file_id).toBeNull();
      expect(fake.completions(marker)).toHaveLength(0);
    });

    it('cancels mid-way: unstarted lines never run, finished ones are in the output', async () => {
      const marker = `[cancel-${backend}]`;
      fake.script(marker, { type: 'ok', delayMs: 500 });
      const input = Array.from({ length: 300 }, (_, i) => inputLine(`c-${i}`, `${marker} ${i}`));
      const file = await upload(client, input);
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      await batchUntil(client, batch.id, (b) => (b.request_counts?.completed ?? 0) > 0);
      const cancelling = await client.batches.cancel(batch.id);
      expect(['cancelling', 'cancelled']).toContain(cancelling.status);
      const done = await batchFinal(client, batch.id);
      expect(done.status).toBe('cancelled');
      expect(done.cancelled_at).not.toBeNull();
      const output = await readLines(client, done.output_file_id);
      const errors = await readLines(client, done.error_file_id);
      expect(output.length).toBeGreaterThan(0);
      expect(output.length + errors.length).toBe(300);
      expect(done.request_counts).toEqual({
        total: 300,
        completed: output.length,
        failed: errors.length,
      });
      expect(errors.length).toBeGreaterThan(0);
      for (const line of errors) expect(line.error?.code).toBe('batch_cancelled');
      const finished = new Set(output.map((line) => line.custom_id));
      const reached = fake.completions(marker);
      // Whatever reached the backend finished (and is in the output) or was cut off, except jobs
      // a worker picked up in the instant of the cancel: at most one per worker slot.
      const discarded = reached.filter(
        (request) => !finished.has(`c-${request.prompt.split(' ').at(-1)}`) && !request.aborted,
      );
      expect(discarded.length).toBeLessThanOrEqual(16);
      expect(reached.length).toBeLessThan(300);
    });

    it("starts the tenant's interactive jobs within a dispatch round while its batch runs", async () => {
      const tenant = await infq.createTenant({ max_concurrent: 4 });
      const sdk = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: tenant.key, maxRetries: 0 });
      const marker = `[share-${backend}]`;
      fake.script(marker, { type: 'ok', delayMs: 50 });
      const input = Array.from({ length: lines }, (_, i) => inputLine(`f-${i}`, `${marker} ${i}`));
      const batch = await sdk.batches.create({
        input_file_id: (await upload(sdk, input)).id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      // Well into the batch: its lines fill the tenant's slots, many more wait.
      await eventually(() => {
        if (fake.completions(marker).length < 20) throw new Error('batch not running yet');
      }, 30_000);
      const sentAt = Date.now();
      const interactive = await infq.submit(tenant.key, `[interactive-${backend}] now`);
      const reached = await fake.waitForRequest(
        (request) => request.prompt.includes(`[interactive-${backend}]`),
        20_000,
      );
      // FIFO behind the batch would take (lines / 4 slots) x 50 ms; a round is one job's time.
      expect(reached.receivedAt - sentAt).toBeLessThan(2_000);
      expect(fake.completions(marker).length).toBeLessThan(lines);
      expect(await infq.jobFinal(tenant.key, interactive)).toMatchObject({ status: 'complete' });
      await sdk.batches.cancel(batch.id);
      expect((await batchFinal(sdk, batch.id)).status).toBe('cancelled');
    });

    it("gives 404 for another tenant's file and batch", async () => {
      const file = await upload(client, [inputLine('x', 'isolation')]);
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      await expect(other.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
      await expect(other.files.content(file.id)).rejects.toMatchObject({ status: 404 });
      await expect(other.files.delete(file.id)).rejects.toMatchObject({ status: 404 });
      await expect(other.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
      await expect(other.batches.cancel(batch.id)).rejects.toMatchObject({ status: 404 });
      await expect(
        other.batches.create({
          input_file_id: file.id,
          endpoint: '/v1/chat/completions',
          completion_window: '24h',
        }),
      ).rejects.toMatchObject({ status: 404 });
      expect((await other.files.list()).data).toHaveLength(0);
      expect((await other.batches.list()).data).toHaveLength(0);
      const raw = await infq.fetch(`/v1/batches/${batch.id}`, {
        headers: { authorization: `Bearer ${globex.key}` },
      });
      await expectOpenAiError(raw, 404, 'batch_not_found');
      await batchFinal(client, batch.id);
    });

    it('refuses uploads over BATCH_MAX_BYTES (413) and BATCH_MAX_LINES (400), storing nothing', async () => {
      const before = (await client.files.list()).data.length;
      const big = Buffer.alloc(3_000_000, 'x');
      const form = new FormData();
      form.set('purpose', 'batch');
      form.set('file', new Blob([big]), 'big.jsonl');
      const tooBig = await infq.fetch('/v1/files', {
        method: 'POST',
        headers: { authorization: `Bearer ${acme.key}` },
        body: form,
      });
      await expectOpenAiError(tooBig, 413, 'request_too_large');

      const many = Array.from({ length: lines + 201 }, (_, i) => `{"n":${i}}`).join('\n');
      const manyForm = new FormData();
      manyForm.set('purpose', 'batch');
      manyForm.set('file', new Blob([many]), 'many.jsonl');
      const tooMany = await infq.fetch('/v1/files', {
        method: 'POST',
        headers: { authorization: `Bearer ${acme.key}` },
        body: manyForm,
      });
      const error = await expectOpenAiError(tooMany, 400, 'invalid_value');
      expect(error.message).toContain('BATCH_MAX_LINES');
      expect((await client.files.list()).data.length).toBe(before);
    });
  });

  describe(`batch expiry (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let client: OpenAI;

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      infq = await Infq.start(backend, [fake], { BATCH_WINDOW_S: '3', WORKER_CONCURRENCY: '4' });
      const tenant = await infq.createTenant();
      client = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: tenant.key, maxRetries: 0 });
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it('ends a batch still running after its window expired, with partial output', async () => {
      fake.script('[slow]', { type: 'ok', delayMs: 250 });
      const input = Array.from({ length: 200 }, (_, i) => inputLine(`e-${i}`, `[slow] ${i}`));
      const file = await upload(client, input);
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      expect(batch.expires_at! - batch.created_at).toBeLessThanOrEqual(4);
      const done = await batchFinal(client, batch.id);
      expect(done.status).toBe('expired');
      expect(done.expired_at).not.toBeNull();
      const output = await readLines(client, done.output_file_id);
      const errors = await readLines(client, done.error_file_id);
      expect(output.length).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
      expect(output.length + errors.length).toBe(200);
      for (const line of errors) {
        expect(line.response, JSON.stringify(line)).toBeNull();
        expect(line.error?.code, JSON.stringify(line)).toBe('batch_expired');
      }
      expect(done.request_counts).toEqual({
        total: 200,
        completed: output.length,
        failed: errors.length,
      });
    });
  });
}
