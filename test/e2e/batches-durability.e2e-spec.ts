import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  cleanupsAfterEach,
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
} from '../support/infq-process.js';

const LINES = 600;

describe.each(QUEUE_BACKENDS)('batch durability (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    'completes a batch whose worker was killed with SIGKILL, every line exactly once',
    { timeout: 300_000 },
    async () => {
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 100 } });
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake], {
        WORKER_CONCURRENCY: '16',
        MAX_RETRIES: '50',
      });
      cleanups.push(drop);
      let infq = await InfqProcess.start(env);
      cleanups.push(() => infq.kill());
      const { key } = await createTenantAt(infq.url);
      const client = (url: string) =>
        new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });

      const input = Array.from({ length: LINES }, (_, i) =>
        JSON.stringify({
          custom_id: `k-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'fake-model', messages: [{ role: 'user', content: `kill ${i}` }] },
        }),
      );
      const file = await client(infq.url).files.create({
        file: await toFile(Buffer.from(input.join('\n')), 'kill.jsonl'),
        purpose: 'batch',
      });
      const batch = await client(infq.url).batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      await fake.waitForRequest((request) => request.prompt.startsWith('kill'), 30_000);
      await eventually(() => {
        const finished = fake.completions('kill').filter((request) => request.finished).length;
        if (finished < 50) throw new Error(`${finished} lines finished`);
      }, 60_000);
      await infq.kill('SIGKILL');
      expect(fake.completions('kill').filter((request) => request.finished).length).toBeLessThan(
        LINES,
      );

      infq = await InfqProcess.start(env);
      const done = await eventually(async () => {
        const current = await client(infq.url).batches.retrieve(batch.id);
        if (current.status !== 'completed') throw new Error(current.status);
        return current;
      }, 180_000);
      expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
      const text = await (await client(infq.url).files.content(done.output_file_id!)).text();
      const lines = text
        .trim()
        .split('\n')
        .map(
          (line) => JSON.parse(line) as { custom_id: string; response: { status_code: number } },
        );
      expect(lines).toHaveLength(LINES);
      expect(new Set(lines.map((line) => line.custom_id)).size).toBe(LINES);
      for (const line of lines) expect(line.response.status_code).toBe(200);
    },
  );
});
