import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/common/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { JobLifecycleService, type JobFinalEvent } from '../../src/jobs/job-lifecycle.service.js';
import { FakeBackend } from '../support/fake-backend.js';
import { ADMIN_TOKEN, eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  cleanupsAfterEach,
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
} from '../support/infq-process.js';
import { verifyStandardWebhook, WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * A worker process killed (SIGKILL) in the middle of a delivery: the delivery is a queued job,
 * so another worker sends it again, with the same webhook-id. Needs `npm run build`.
 */
describe.each(QUEUE_BACKENDS)(
  'webhook delivery survives a killed worker (%s backend)',
  (backend) => {
    const cleanups = cleanupsAfterEach();

    it('delivers the event after the worker sending it is killed', async () => {
      const fake = await FakeBackend.start({ models: ['fake-model'] });
      cleanups.push(() => fake.close());
      const receiver = await WebhookReceiver.start();
      cleanups.push(() => receiver.close());
      // The first attempt hangs until its worker dies; the next one succeeds.
      receiver.script('/survives', { type: 'sequence', statuses: ['hang'], then: 200 });
      const { env, drop } = await isolatedEnvironment(backend, [fake], {
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_RETRY_BASE_MS: '50',
      });
      cleanups.push(drop);

      const first = await InfqProcess.start(env);
      cleanups.push(() => first.kill());
      const tenant = await createTenantAt(first.url);
      const created = await fetch(`${first.url}/admin/api/tenants/${tenant.id}/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: receiver.url('/survives') }),
      });
      expect(created.status).toBe(201);
      const { secret } = (await created.json()) as { secret: string };

      // An API-only instance in this process publishes the event; the worker process sends it.
      const config = loadConfig({ ...env, MODE: 'api' });
      const api = await createApp(config, env.DATABASE_URL, createLogger('silent'));
      await api.init();
      cleanups.push(() => api.close());
      const jobId = randomUUID();
      const now = Math.floor(Date.now() / 1000);
      await api.get(JobLifecycleService).publishFinal({
        jobId,
        tenantId: tenant.id,
        status: 'complete',
        view: {
          id: jobId,
          object: 'chat.completion.job',
          status: 'complete',
          model: 'fake-model',
          created_at: now,
          started_at: now,
          completed_at: now,
          retries: 0,
          next_retry_at: null,
          error: null,
        } as unknown as JobFinalEvent['view'],
        resultBody: '{}',
        lastUpstreamStatus: 200,
        origin: null,
        requestBytes: 0,
      });

      const hung = await receiver.next('/survives');
      await first.kill('SIGKILL');
      const second = await InfqProcess.start(env);
      cleanups.push(() => second.kill());

      // Found stalled once the dead worker's lock lapses (15 s), then sent again.
      const delivered = await eventually(() => {
        const answered = receiver.at('/survives').find((request) => request.answered === 200);
        if (!answered) throw new Error('not delivered again yet');
        return answered;
      }, 45_000);
      expect(delivered.headers['webhook-id']).toBe(hung.headers['webhook-id']);
      expect(JSON.parse(delivered.body)).toMatchObject({
        type: 'job.completed',
        data: { id: jobId },
      });
      expect(await verifyStandardWebhook(secret, delivered.headers, delivered.body)).toBe(true);
    }, 90_000);
  },
);
