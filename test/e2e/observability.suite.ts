import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';
import { MetricsScrape } from '../support/prometheus-text.js';

const METRICS_TOKEN = 'test-metrics-token-0123456789';
const GRAFANA_DASHBOARD = resolve(import.meta.dirname, '../../docker/grafana/infq.json');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `/metrics`, `x-request-id` and the health probes; run once per queue backend. */
export function describeObservability(backend: QueueBackendKind): void {
  describe(`metrics and request ids (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let tenant: TenantWithKey;
    let node: { provider: string; node: string };

    const scrape = async (): Promise<MetricsScrape> => {
      const response = await infq.fetch('/metrics', {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      return MetricsScrape.parse(await response.text());
    };
    const http = (method: string, route: string, status: number) => ({
      method,
      route,
      status: String(status),
    });

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      infq = await Infq.start(backend, [fake], { METRICS_TOKEN });
      tenant = await infq.createTenant();
      node = { provider: 'bus', node: fake.url };
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it('refuses a scrape without the METRICS_TOKEN bearer token, in the error shape', async () => {
      await expectOpenAiError(await infq.fetch('/metrics'), 401, 'unauthorized');
      await expectOpenAiError(
        await infq.fetch('/metrics', {
          headers: { authorization: 'Bearer wrong-token-0123456789' },
        }),
        401,
        'unauthorized',
      );
      await expectOpenAiError(
        await infq.fetch('/metrics', { headers: { authorization: `Bearer ${tenant.key}` } }),
        401,
        'unauthorized',
      );
    });

    it('counts HTTP requests by route pattern and status, with their latency', async () => {
      const before = await scrape();
      for (let i = 0; i < 3; i++) expect((await infq.fetch('/health')).status).toBe(200);
      for (const path of ['/no-such-route', '/v1/no/such/thing']) {
        expect((await infq.fetch(path)).status).toBe(404);
      }
      const auth = { authorization: `Bearer ${tenant.key}` };
      for (let i = 0; i < 2; i++) {
        const response = await infq.fetch(`/v1/results/${randomUUID()}`, { headers: auth });
        expect(response.status).toBe(404);
      }
      expect((await infq.fetch(`/v1/results/${randomUUID()}`)).status).toBe(401);
      const after = await scrape();

      const change = (labels: ReturnType<typeof http>) =>
        after.value('infq_http_requests_total', labels) -
        before.value('infq_http_requests_total', labels);
      expect(change(http('GET', '/health', 200))).toBe(3);
      expect(change(http('GET', 'unmatched', 404))).toBe(2);
      expect(change(http('GET', '/v1/results/:id', 404))).toBe(2);
      expect(change(http('GET', '/v1/results/:id', 401))).toBe(1);
      // The first scrape itself was answered before the second one read the counters.
      expect(change(http('GET', '/metrics', 200))).toBe(1);
      const latency = { method: 'GET', route: '/v1/results/:id' };
      expect(
        after.value('infq_http_request_duration_seconds_count', latency) -
          before.value('infq_http_request_duration_seconds_count', latency),
      ).toBe(3);
      // Raw URLs never become labels.
      expect(after.has('infq_http_requests_total', http('GET', '/no-such-route', 404))).toBe(false);
    });

    it('reports node health, in-flight calls, call latency and node errors', async () => {
      fake.script('metrics-node-500', { type: 'status', status: 500 }, { type: 'ok' });
      fake.script('metrics-node-400', { type: 'status', status: 400, message: 'bad prompt' });
      const before = await scrape();
      const ok = await infq.submit(tenant.key, 'metrics-node-ok');
      const retried = await infq.submit(tenant.key, 'metrics-node-500');
      const refused = await infq.submit(tenant.key, 'metrics-node-400');
      expect((await infq.jobFinal(tenant.key, ok)).status).toBe('complete');
      expect((await infq.jobFinal(tenant.key, retried)).status).toBe('complete');
      expect((await infq.jobFinal(tenant.key, refused)).status).toBe('dead');
      const after = await scrape();

      // Two successful calls (the ok job, the retry after the 500); the 400 is no node error.
      expect(
        after.value('infq_node_request_duration_seconds_count', node) -
          before.value('infq_node_request_duration_seconds_count', node),
      ).toBe(2);
      const httpErrors = { ...node, kind: 'http' };
      expect(
        after.value('infq_node_errors_total', httpErrors) -
          before.value('infq_node_errors_total', httpErrors),
      ).toBe(1);
      expect(after.value('infq_node_healthy', node)).toBe(1);
      expect(after.value('infq_node_capacity', node)).toBe(64);
      expect(after.value('infq_node_in_flight', node)).toBe(0);
      expect(after.value('infq_queue_jobs', { state: 'dead' })).toBe(1);
      expect(after.value('infq_queue_jobs', { state: 'complete' })).toBe(2);
      expect(after.value('infq_queue_jobs', { state: 'processing' })).toBe(0);
    });

    it('counts jobs accepted, completed, retried, dead, cancelled and expired exactly', async () => {
      fake.script('metrics-jobs-500', { type: 'status', status: 503 }, { type: 'ok' });
      fake.script('metrics-jobs-400', { type: 'status', status: 400, message: 'bad prompt' });
      fake.script('metrics-jobs-hang', { type: 'hang' });
      const finished = (scrape: MetricsScrape, status: string) =>
        scrape.value('infq_jobs_finished_total', { status });
      const before = await scrape();

      const complete = await infq.submit(tenant.key, 'metrics-jobs-ok');
      const retried = await infq.submit(tenant.key, 'metrics-jobs-500');
      const dead = await infq.submit(tenant.key, 'metrics-jobs-400');
      const cancelled = await infq.submit(tenant.key, 'metrics-jobs-hang cancel');
      await infq.jobUntil(tenant.key, cancelled, (job) => job.status === 'processing');
      const cancel = await infq.fetch(`/v1/results/${cancelled}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(cancel.status).toBe(200);
      const expiring = await infq.chat(
        tenant.key,
        'metrics-jobs-hang expire',
        {},
        {
          'cancel-after': '1s',
        },
      );
      expect(expiring.status).toBe(202);
      const expired = ((await expiring.json()) as { id: string }).id;

      expect((await infq.jobFinal(tenant.key, complete)).status).toBe('complete');
      expect((await infq.jobFinal(tenant.key, retried)).status).toBe('complete');
      expect((await infq.jobFinal(tenant.key, dead)).status).toBe('dead');
      await infq.jobUntil(tenant.key, expired, (job) => job.status === 'expired');

      // The worker counts an outcome once the queue has recorded it, which a client can see a
      // moment before: the counters reach their values, and stay there.
      const deltas = async () => {
        const after = await scrape();
        return {
          accepted:
            after.value('infq_jobs_accepted_total') - before.value('infq_jobs_accepted_total'),
          retried: after.value('infq_jobs_retried_total') - before.value('infq_jobs_retried_total'),
          complete: finished(after, 'complete') - finished(before, 'complete'),
          dead: finished(after, 'dead') - finished(before, 'dead'),
          cancelled: finished(after, 'cancelled') - finished(before, 'cancelled'),
          expired: finished(after, 'expired') - finished(before, 'expired'),
        };
      };
      const expected = { accepted: 5, retried: 1, complete: 2, dead: 1, cancelled: 1, expired: 1 };
      await eventually(async () => expect(await deltas()).toEqual(expected), 2_000);
      expect(await deltas()).toEqual(expected);
    });

    it('lists every documented series', async () => {
      const names = (await scrape()).names();
      for (const name of [
        'infq_http_requests_total',
        'infq_http_request_duration_seconds_bucket',
        'infq_jobs_accepted_total',
        'infq_jobs_finished_total',
        'infq_jobs_retried_total',
        'infq_queue_jobs',
        'infq_node_in_flight',
        'infq_node_healthy',
        'infq_node_request_duration_seconds_bucket',
        'infq_node_errors_total',
        'infq_node_capacity',
        'infq_tenant_jobs',
        'infq_webhook_deliveries_total',
        'infq_jobs_requeued_total',
        'infq_process_cpu_seconds_total',
      ]) {
        expect(names, name).toContain(name);
      }
      for (const name of names) expect(name).toMatch(/^infq_/);
    });

    it('serves every series the Grafana dashboard queries', async () => {
      const names = (await scrape()).names();
      const dashboard = await readFile(GRAFANA_DASHBOARD, 'utf8');
      const queried = new Set(dashboard.match(/infq_[a-z0-9_]+/g));
      expect(queried.size).toBeGreaterThan(10);
      for (const name of queried) expect(names, name).toContain(name);
    });

    it("answers with the client's x-request-id when it is sane, else a new one", async () => {
      const sane = 'trace-01.abc:XYZ_9';
      const kept = await infq.fetch('/health', { headers: { 'x-request-id': sane } });
      expect(kept.headers.get('x-request-id')).toBe(sane);
      for (const insane of ['has space', 'x'.repeat(201), 'semi;colon', '']) {
        const replaced = await infq.fetch('/health', { headers: { 'x-request-id': insane } });
        expect(replaced.headers.get('x-request-id')).toMatch(UUID);
      }
      const fresh = await infq.fetch('/health');
      expect(fresh.headers.get('x-request-id')).toMatch(UUID);
    });

    it('sends x-request-id on errors, 404s and event streams', async () => {
      const notFound = await infq.fetch('/nothing-here', {
        headers: { 'x-request-id': 'req-404' },
      });
      expect(notFound.headers.get('x-request-id')).toBe('req-404');
      await expectOpenAiError(notFound, 404, 'route_not_found');
      const unauthorized = await infq.fetch('/v1/models', {
        headers: { 'x-request-id': 'req-401' },
      });
      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers.get('x-request-id')).toBe('req-401');
      const badJson = await infq.fetch('/v1/chat/completions', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.key}`,
          'content-type': 'application/json',
          'x-request-id': 'req-400',
        },
        body: '{"model":',
      });
      expect(badJson.headers.get('x-request-id')).toBe('req-400');
      await expectOpenAiError(badJson, 400, 'invalid_json');
      const stream = await infq.chat(
        tenant.key,
        'request id stream',
        { stream: true },
        { 'x-request-id': 'req-stream' },
      );
      expect(stream.status).toBe(200);
      expect(stream.headers.get('x-request-id')).toBe('req-stream');
      await stream.text();
    });
  });
}
