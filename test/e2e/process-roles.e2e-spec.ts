import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { expectOpenAiError, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
  cleanupsAfterEach,
} from '../support/infq-process.js';

// MODE=api and MODE=worker split one deployment into processes that meet only in the shared
// database and queue: everything a client sees must work across that gap.
describe.each(QUEUE_BACKENDS)('MODE=api and MODE=worker processes (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    'accepts jobs on the api process and runs them only on the worker process',
    { timeout: 90_000 },
    async () => {
      const fake = await FakeBackend.start({ models: ['fake-model'] });
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake]);
      cleanups.push(drop);
      const api = await InfqProcess.start({ ...env, MODE: 'api' });
      cleanups.push(() => api.kill('SIGTERM'));
      const { key } = await createTenantAt(api.url, { rpm: 1000, max_concurrent: 10 });
      const request = (path: string, init: RequestInit = {}): Promise<Response> =>
        fetch(`${api.url}${path}`, {
          ...init,
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            ...init.headers,
          },
        });
      const chat = (prompt: string, headers: Record<string, string> = {}): Promise<Response> =>
        request('/v1/chat/completions', {
          method: 'POST',
          headers,
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: prompt }],
          }),
        });

      // No worker anywhere: an explicit one-second wait runs out with the job still queued.
      const early = await chat('before the worker', { prefer: 'wait=1' });
      expect(early.status).toBe(202);
      const { id: earlyId } = await early.json();
      expect(fake.completions()).toHaveLength(0);

      const worker = await InfqProcess.start({ ...env, MODE: 'worker' });
      cleanups.push(() => worker.kill('SIGTERM'));
      // The worker serves /health for orchestrators, and nothing else.
      expect((await fetch(`${worker.url}/health`)).status).toBe(200);
      for (const path of ['/v1/models', '/admin/api/tenants', '/docs-json', '/admin/']) {
        await expectOpenAiError(
          await fetch(`${worker.url}${path}`, { headers: { authorization: `Bearer ${key}` } }),
          404,
          'route_not_found',
        );
      }
      await expectOpenAiError(
        await fetch(`${worker.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: '{}',
        }),
        404,
        'route_not_found',
      );

      // The queued job is picked up; the api process learns of it through the queue's events.
      const polled = await request(`/v1/results/${earlyId}?wait=20`);
      expect(await polled.json()).toMatchObject({ id: earlyId, status: 'complete', retries: 0 });
      const waited = await chat('waited for', { prefer: 'wait=20' });
      expect(waited.status).toBe(200);
      expect(waited.headers.get('x-job-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect((await waited.json()).object).toBe('chat.completion');

      // A cancel on the api process aborts the attempt running on the worker process.
      fake.script('hang across', { type: 'hang' });
      const hanging = await chat('hang across');
      const { id: hangingId } = await hanging.json();
      await fake.waitForRequest((call) => call.prompt === 'hang across');
      const cancelled = await request(`/v1/results/${hangingId}`, { method: 'DELETE' });
      expect(await cancelled.json()).toMatchObject({ status: 'cancelled' });
      const aborted = await fake.waitForAbort((call) => call.prompt === 'hang across', 1_000);
      expect(aborted.aborted).toBe(true);
    },
  );
});
