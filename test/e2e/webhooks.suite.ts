import { randomUUID } from 'node:crypto';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLifecycleService, type JobFinalEvent } from '../../src/jobs/job-lifecycle.service.js';
import { WEBHOOK_QUEUE } from '../../src/webhooks/webhook-queue.js';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';
import { verifyStandardWebhook, WebhookReceiver } from '../support/webhook-receiver.js';

interface EndpointBody {
  id: string;
  object: string;
  tenant_id: string;
  url: string;
  events: string[];
  enabled: boolean;
  secret?: string;
}

interface DeliveryBody {
  id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  last_response_code: number | null;
  last_error: string | null;
  payload: { id: string; type: string; data: { id: string } };
}

interface EventBody {
  id: string;
  type: string;
  created_at: number;
  data: { id: string; status: string; object: string };
}

/** A final job status as the job pipeline publishes it. */
function finalEvent(
  tenantId: string,
  status: JobFinalEvent['status'] = 'complete',
  jobId: string = randomUUID(),
): JobFinalEvent {
  const now = Math.floor(Date.now() / 1000);
  const view = {
    id: jobId,
    object: 'chat.completion.job',
    status,
    model: 'fake-model',
    created_at: now,
    started_at: now,
    completed_at: now,
    retries: 0,
    next_retry_at: null,
    queue_position: null,
    expires_at: null,
    error: null,
  } as unknown as JobFinalEvent['view'];
  return {
    jobId,
    tenantId,
    status,
    view,
    resultBody: '{"id":"chatcmpl-1"}',
    lastUpstreamStatus: 200,
    origin: null,
    requestBytes: 0,
  };
}

/** Webhook endpoints and signed, durable deliveries; run once per queue backend. */
export function describeWebhooks(backend: QueueBackendKind): void {
  describe(`webhooks (${backend} backend)`, () => {
    let fake: FakeBackend;
    let receiver: WebhookReceiver;
    let infq: Infq;
    let acme: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      receiver = await WebhookReceiver.start();
      infq = await Infq.start(backend, [fake], {
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_RETRY_BASE_MS: '50',
      });
      acme = await infq.createTenant();
    });

    afterAll(async () => {
      await infq?.close();
      await receiver?.close();
      await fake?.close();
    });

    const publish = (event: JobFinalEvent) => infq.app.get(JobLifecycleService).publishFinal(event);

    async function addEndpoint(
      tenantId: string,
      path: string,
      extra: Record<string, unknown> = {},
    ): Promise<EndpointBody> {
      const response = await infq.admin('POST', `/tenants/${tenantId}/webhooks`, {
        url: receiver.url(path),
        ...extra,
      });
      expect(response.status).toBe(201);
      return (await response.json()) as EndpointBody;
    }

    async function deliveries(endpointId: string): Promise<DeliveryBody[]> {
      const response = await infq.admin('GET', `/webhooks/${endpointId}/deliveries`);
      expect(response.status).toBe(200);
      return ((await response.json()) as { data: DeliveryBody[] }).data;
    }

    it('manages endpoints through the admin API; the secret is shown only when issued', async () => {
      const tenant = await infq.createTenant();
      const created = await addEndpoint(tenant.id, '/manage', { events: ['job.completed'] });
      expect(created).toMatchObject({
        object: 'webhook_endpoint',
        tenant_id: tenant.id,
        url: receiver.url('/manage'),
        events: ['job.completed'],
        enabled: true,
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      });

      const listed = await infq.admin('GET', `/tenants/${tenant.id}/webhooks`);
      const list = (await listed.json()) as { data: EndpointBody[] };
      expect(list.data).toHaveLength(1);
      expect(list.data[0]).not.toHaveProperty('secret');

      const disabled = await infq.admin('PATCH', `/webhooks/${created.id}`, {
        enabled: false,
        events: ['job.dead', 'job.expired'],
      });
      expect(disabled.status).toBe(200);
      const disabledBody = (await disabled.json()) as EndpointBody;
      expect(disabledBody).toMatchObject({ enabled: false, events: ['job.dead', 'job.expired'] });
      expect(disabledBody).not.toHaveProperty('secret');

      const rotated = (await (
        await infq.admin('PATCH', `/webhooks/${created.id}`, { rotate_secret: true })
      ).json()) as EndpointBody;
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(created.secret);

      await expectOpenAiError(
        await infq.admin('POST', `/tenants/${tenant.id}/webhooks`, { url: 'ftp://example.com/' }),
        400,
        'invalid_value',
      );
      const badEvent = await expectOpenAiError(
        await infq.admin('POST', `/tenants/${tenant.id}/webhooks`, {
          url: receiver.url('/x'),
          events: ['job.finished'],
        }),
        400,
        'invalid_value',
      );
      expect(badEvent.param).toBe('events.0');
      await expectOpenAiError(
        await infq.admin('POST', `/tenants/${randomUUID()}/webhooks`, { url: receiver.url('/x') }),
        404,
        'not_found',
      );
      await expectOpenAiError(
        await infq.admin('PATCH', `/webhooks/not-an-id`, { enabled: true }),
        404,
        'not_found',
      );
      await expectOpenAiError(
        await infq.fetch(`/admin/api/tenants/${tenant.id}/webhooks`, {
          headers: { authorization: `Bearer ${tenant.key}` },
        }),
        401,
        'invalid_api_key',
      );

      const deleted = await infq.admin('DELETE', `/webhooks/${created.id}`);
      expect(await deleted.json()).toEqual({
        id: created.id,
        object: 'webhook_endpoint',
        deleted: true,
      });
      await expectOpenAiError(
        await infq.admin('DELETE', `/webhooks/${created.id}`),
        404,
        'not_found',
      );
    });

    it('delivers exactly one signed job.completed per job, even when published twice', async () => {
      const endpoint = await addEndpoint(acme.id, '/exactly-once');
      const events = Array.from({ length: 5 }, () => finalEvent(acme.id));
      // The pipeline publishes at least once: every event twice, concurrently and after.
      await Promise.all(events.map((event) => publish(event)));
      await Promise.all(events.map((event) => publish(event)));

      const all = await eventually(async () => {
        const list = await deliveries(endpoint.id);
        expect(list).toHaveLength(5);
        for (const delivery of list) expect(delivery.status).toBe('succeeded');
        return list;
      }, 15_000);
      await Promise.all(events.map((event) => publish(event)));

      const received = receiver.at('/exactly-once');
      expect(received).toHaveLength(5);
      const jobIds = new Set<string>();
      for (const request of received) {
        expect(await verifyStandardWebhook(endpoint.secret!, request.headers, request.body)).toBe(
          true,
        );
        expect(
          await verifyStandardWebhook(`whsec_${'A'.repeat(44)}`, request.headers, request.body),
        ).toBe(false);
        const body = JSON.parse(request.body) as EventBody;
        expect(body).toMatchObject({
          id: expect.stringMatching(/^evt_/),
          type: 'job.completed',
          created_at: expect.any(Number),
          data: { object: 'chat.completion.job', status: 'complete' },
        });
        expect(body.data).not.toHaveProperty('result');
        expect(request.headers['webhook-id']).toBe(body.id);
        expect(request.headers['content-type']).toContain('application/json');
        jobIds.add(body.data.id);
      }
      expect(jobIds).toEqual(new Set(events.map((event) => event.jobId)));
      expect(all.map((delivery) => delivery.attempts)).toEqual([1, 1, 1, 1, 1]);
    });

    it('sends each event only to the endpoints subscribed to it', async () => {
      const tenant = await infq.createTenant();
      const deadOnly = await addEndpoint(tenant.id, '/dead-only', { events: ['job.dead'] });
      const disabled = await addEndpoint(tenant.id, '/disabled', { enabled: false });
      const other = await addEndpoint(acme.id, '/other-tenant', { events: ['job.dead'] });
      const completed = finalEvent(tenant.id, 'complete');
      const dead = finalEvent(tenant.id, 'dead');
      await publish(completed);
      await publish(dead);
      const request = await receiver.next('/dead-only');
      expect(JSON.parse(request.body)).toMatchObject({
        type: 'job.dead',
        data: { id: dead.jobId, status: 'dead' },
      });
      await eventually(async () => {
        expect((await deliveries(deadOnly.id)).map((d) => d.status)).toEqual(['succeeded']);
      });
      expect(receiver.at('/dead-only')).toHaveLength(1);
      expect(await deliveries(disabled.id)).toEqual([]);
      expect(await deliveries(other.id)).toEqual([]);
      expect(receiver.at('/disabled')).toHaveLength(0);
    });

    it('retries 500, 500, 500 then delivers on 200 with the same webhook-id', async () => {
      receiver.script('/flaky', { type: 'sequence', statuses: [500, 500, 500], then: 200 });
      const endpoint = await addEndpoint(acme.id, '/flaky');
      const event = finalEvent(acme.id, 'complete');
      await publish(event);
      const delivered = await eventually(async () => {
        const [delivery] = await deliveries(endpoint.id);
        expect(delivery).toMatchObject({ status: 'succeeded' });
        return delivery;
      }, 15_000);
      expect(delivered).toMatchObject({ attempts: 4, last_response_code: 200, last_error: null });
      const attempts = receiver.at('/flaky');
      expect(attempts.map((request) => request.answered)).toEqual([500, 500, 500, 200]);
      expect(new Set(attempts.map((request) => request.headers['webhook-id']))).toEqual(
        new Set([delivered.event_id]),
      );
      for (const request of attempts) {
        expect(await verifyStandardWebhook(endpoint.secret!, request.headers, request.body)).toBe(
          true,
        );
      }
      // Backoff: 50, 100, 200 ms between attempts (WEBHOOK_RETRY_BASE_MS=50, doubling).
      const gaps = attempts
        .slice(1)
        .map((request, index) => request.receivedAt - attempts[index].receivedAt);
      expect(gaps[0]).toBeGreaterThanOrEqual(40);
      expect(gaps[2]).toBeGreaterThanOrEqual(150);
    });

    it('redelivers a delivery on request, with the same webhook-id', async () => {
      const endpoint = await addEndpoint(acme.id, '/redeliver');
      await publish(finalEvent(acme.id));
      const [first] = await eventually(async () => {
        const list = await deliveries(endpoint.id);
        expect(list[0]?.status).toBe('succeeded');
        return list;
      });
      const redelivered = await infq.admin('POST', `/deliveries/${first.id}/redeliver`);
      expect(redelivered.status).toBe(202);
      await eventually(() => expect(receiver.at('/redeliver')).toHaveLength(2));
      const [a, b] = receiver.at('/redeliver');
      expect(b.headers['webhook-id']).toBe(a.headers['webhook-id']);
      expect(b.body).toBe(a.body);
      await eventually(async () => {
        expect(await deliveries(endpoint.id)).toMatchObject([
          { id: first.id, status: 'succeeded', attempts: 2 },
        ]);
      });
      await expectOpenAiError(
        await infq.admin('POST', `/deliveries/${randomUUID()}/redeliver`),
        404,
        'not_found',
      );
    });

    it('signs with the old and the new secret after a rotation', async () => {
      const endpoint = await addEndpoint(acme.id, '/rotated');
      const rotated = (await (
        await infq.admin('PATCH', `/webhooks/${endpoint.id}`, { rotate_secret: true })
      ).json()) as EndpointBody;
      await publish(finalEvent(acme.id));
      const request = await receiver.next('/rotated');
      expect(await verifyStandardWebhook(rotated.secret!, request.headers, request.body)).toBe(
        true,
      );
      expect(await verifyStandardWebhook(endpoint.secret!, request.headers, request.body)).toBe(
        true,
      );
    });

    it("does not let a hanging endpoint delay another tenant's deliveries", async () => {
      receiver.script('/hang', { type: 'hang' });
      const slowTenant = await infq.createTenant();
      const fastTenant = await infq.createTenant();
      const slow = await addEndpoint(slowTenant.id, '/hang');
      await addEndpoint(fastTenant.id, '/fast');
      // From the moment an event is queued to its arrival (publishing touches no endpoint).
      const deliveryLatency = async (): Promise<number> => {
        const event = finalEvent(fastTenant.id);
        await publish(event);
        const queuedAt = Date.now();
        const request = await receiver.next('/fast', (r) => r.body.includes(event.jobId));
        return request.receivedAt - queuedAt;
      };
      const baseline: number[] = [];
      for (let round = 0; round < 3; round++) baseline.push(await deliveryLatency());

      // More hanging deliveries than the worker runs at once, all taken up by the worker (those
      // beyond the endpoint's share wait aside) before the other tenant's events come.
      await Promise.all(Array.from({ length: 250 }, () => publish(finalEvent(slowTenant.id))));
      const queue = infq.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE));
      await eventually(async () => {
        expect(receiver.at('/hang').length).toBeGreaterThanOrEqual(10);
        expect(await queue.getWaitingCount()).toBe(0);
      }, 30_000);
      const latencies: number[] = [];
      for (let round = 0; round < 5; round++) latencies.push(await deliveryLatency());
      // Delayed by less than a second compared with the same deliveries on a quiet worker.
      expect(Math.max(...latencies)).toBeLessThan(Math.max(...baseline) + 1_000);
      // Disabled, the hanging endpoint's backlog ends at once (recorded as failed).
      await infq.admin('PATCH', `/webhooks/${slow.id}`, { enabled: false });
    });

    it('delivers job.completed for a real job (needs publishFinal wired in the job pipeline)', async () => {
      const tenant = await infq.createTenant();
      const endpoint = await addEndpoint(tenant.id, '/real-job', { events: ['job.completed'] });
      const jobId = await infq.submit(tenant.key, 'webhook for a real job');
      expect(await infq.jobFinal(tenant.key, jobId)).toMatchObject({ status: 'complete' });
      const request = await receiver.next('/real-job');
      const body = JSON.parse(request.body) as EventBody;
      expect(body).toMatchObject({
        type: 'job.completed',
        data: { id: jobId, status: 'complete', object: 'chat.completion.job' },
      });
      expect(body.data).not.toHaveProperty('result');
      expect(await verifyStandardWebhook(endpoint.secret!, request.headers, request.body)).toBe(
        true,
      );
      await eventually(async () => {
        expect((await deliveries(endpoint.id)).map((d) => d.status)).toEqual(['succeeded']);
      });
      expect(receiver.at('/real-job')).toHaveLength(1);
    });
  });

  describe(`webhook address rules (${backend} backend, private addresses not allowed)`, () => {
    let fake: FakeBackend;
    let receiver: WebhookReceiver;
    let infq: Infq;
    let tenant: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      receiver = await WebhookReceiver.start();
      infq = await Infq.start(backend, [fake], { WEBHOOK_RETRY_BASE_MS: '50' });
      tenant = await infq.createTenant();
    });

    afterAll(async () => {
      await infq?.close();
      await receiver?.close();
      await fake?.close();
    });

    it.each([
      'http://127.0.0.1:9/hook',
      'http://10.1.2.3/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:8080/hook',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:127.0.0.1]/hook',
      'http://0x7f.1/hook',
      'http://192.168.0.10/hook',
      'http://localhost:9/hook',
      'ftp://example.com/hook',
      'not a url',
    ])('refuses %s when the endpoint is saved', async (url) => {
      const error = await expectOpenAiError(
        await infq.admin('POST', `/tenants/${tenant.id}/webhooks`, { url }),
        400,
        'invalid_value',
      );
      expect(error.param).toBe('url');
    });

    it('refuses a private URL in a change too', async () => {
      const created = await infq.admin('POST', `/tenants/${tenant.id}/webhooks`, {
        url: 'http://hooks.invalid/ok',
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as EndpointBody;
      await expectOpenAiError(
        await infq.admin('PATCH', `/webhooks/${id}`, { url: 'http://10.0.0.1/' }),
        400,
        'invalid_value',
      );
      await infq.admin('DELETE', `/webhooks/${id}`);
    });

    it.each([
      [
        'a host name that now resolves to loopback',
        (port: number) => `http://localhost:${port}/rebound`,
      ],
      ['a loopback address', (port: number) => `http://127.0.0.1:${port}/rebound`],
    ])('refuses at delivery time %s', async (_name, urlFor) => {
      // Saved while the name did not resolve to anything private; then DNS "changes": the
      // stored URL is rewritten to one that resolves to the receiver on loopback.
      const created = await infq.admin('POST', `/tenants/${tenant.id}/webhooks`, {
        url: 'http://rebinding.invalid/rebound',
      });
      expect(created.status).toBe(201);
      const endpoint = (await created.json()) as EndpointBody;
      await infq.app
        .get(DataSource)
        .query(`UPDATE webhook_endpoints SET url = $1 WHERE id = $2`, [
          urlFor(receiver.port),
          endpoint.id,
        ]);
      // Publishing reads endpoints through a 1 s cache.
      const event = finalEvent(tenant.id);
      await eventually(async () => {
        await infq.app.get(JobLifecycleService).publishFinal({ ...event });
        const response = await infq.admin('GET', `/webhooks/${endpoint.id}/deliveries`);
        const [delivery] = ((await response.json()) as { data: DeliveryBody[] }).data;
        expect(delivery).toMatchObject({ status: 'failed', last_response_code: null });
        expect(delivery.last_error).toMatch(/refused: .*loopback, private, link-local or metadata/);
      }, 10_000);
      expect(receiver.at('/rebound')).toHaveLength(0);
      await infq.admin('DELETE', `/webhooks/${endpoint.id}`);
    });
  });
}
