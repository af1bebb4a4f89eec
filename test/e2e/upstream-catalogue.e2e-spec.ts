import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCatalogService } from '../../src/upstream/model-catalog.service.js';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  QUEUE_BACKENDS,
  type TenantWithKey,
} from '../support/infq-harness.js';

const bus = (...ids: string[]) =>
  ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'inference-bus' }));
const fromPistachio = (...ids: string[]) =>
  ids.map((id) => ({ id: `pistachio/${id}`, object: 'model', created: 0, owned_by: 'pistachio' }));

/** GET /v1/models, node state in /health and /admin/api/stats, model_not_found; both backends. */
describe.each(QUEUE_BACKENDS)('model catalogue and node state (%s backend)', (backend) => {
  let alpha: FakeBackend;
  let beta: FakeBackend;
  let gamma: FakeBackend;
  let pistachio: FakeBackend;
  let infq: Infq;
  let tenant: TenantWithKey;

  beforeAll(async () => {
    [alpha, beta, gamma, pistachio] = await Promise.all([
      FakeBackend.start({ models: ['llama-3.3-70b', 'shared-model'] }),
      FakeBackend.start({ models: ['qwen-2.5-72b', 'shared-model'] }),
      FakeBackend.start({ models: ['only-on-gamma'] }),
      FakeBackend.start({ models: ['x', 'y'] }),
    ]);
    infq = await Infq.start(backend, [alpha, beta, gamma], {
      BUS_NODES: `${alpha.url}=10,${beta.url}=20,${gamma.url}=30`,
      PISTACHIO_URL: pistachio.url,
      UPSTREAM_PROBE_INTERVAL_MS: '250',
    });
    tenant = await infq.createTenant();
  });

  afterAll(async () => {
    await infq?.close();
    await Promise.all([alpha, beta, gamma, pistachio].map((node) => node?.close()));
  });

  const listModels = (query = '') =>
    infq.fetch(`/v1/models${query}`, { headers: { authorization: `Bearer ${tenant.key}` } });

  async function stats(): Promise<StatsBody> {
    const response = await infq.admin('GET', '/stats');
    expect(response.status).toBe(200);
    return (await response.json()) as StatsBody;
  }

  it('needs a tenant key', async () => {
    await expectOpenAiError(await infq.fetch('/v1/models'), 401, 'missing_api_key');
    await expectOpenAiError(
      await infq.fetch('/v1/models', { headers: { authorization: 'Bearer inf_nope' } }),
      401,
      'invalid_api_key',
    );
  });

  it("lists the union of healthy nodes' models, each once", async () => {
    await eventually(async () => {
      const response = await listModels();
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        object: 'list',
        data: bus('llama-3.3-70b', 'only-on-gamma', 'qwen-2.5-72b', 'shared-model'),
      });
    });
  });

  it('documents /v1/models and /admin/api/stats at /docs-json', async () => {
    const document = await (await infq.fetch('/docs-json')).json();
    expect(document.paths['/v1/models'].get.responses['200'].content).toBeDefined();
    expect(document.paths['/admin/api/stats'].get.responses['200'].content).toBeDefined();
  });

  it('knows which models are served once the first probe round has answered', () => {
    const catalog = infq.app.get(ModelCatalogService);
    expect(catalog.isBusCatalogueKnown()).toBe(true);
    for (const model of ['shared-model', 'only-on-gamma', 'pistachio/x']) {
      expect(() => catalog.assertServed(model)).not.toThrow();
    }
    for (const model of ['no-such-model', 'pistachio/zzz', 'x']) {
      expect(() => catalog.assertServed(model)).toThrow(
        expect.objectContaining({ code: 'model_not_found', status: 404, param: 'model' }),
      );
    }
  });

  it("adds Pistachio's models as pistachio/<id> with include=pistachio", async () => {
    await eventually(async () => {
      const response = await listModels('?include=pistachio');
      expect(response.status).toBe(200);
      expect((await response.json()).data).toEqual([
        ...bus('llama-3.3-70b', 'only-on-gamma', 'qwen-2.5-72b', 'shared-model'),
        ...fromPistachio('x', 'y'),
      ]);
    });
    await expectOpenAiError(await listModels('?include=everything'), 400, 'invalid_value');
  });

  it('follows a change in a node’s model list', async () => {
    alpha.models = [...alpha.models, 'fresh-model'];
    await eventually(async () =>
      expect((await (await listModels()).json()).data).toContainEqual(bus('fresh-model')[0]),
    );
    alpha.models = alpha.models.filter((model) => model !== 'fresh-model');
    await eventually(async () =>
      expect((await (await listModels()).json()).data).not.toContainEqual(bus('fresh-model')[0]),
    );
  });

  it('drops a dead node’s models, shows it in /health and stats, and takes it back', async () => {
    gamma.setRefusing(true);
    await eventually(async () => {
      const ids = (await (await listModels()).json()).data.map((model: { id: string }) => model.id);
      expect(ids).toEqual(['llama-3.3-70b', 'qwen-2.5-72b', 'shared-model']);
    });
    const health = await (await infq.fetch('/health')).json();
    expect(health.upstreams).toEqual({
      bus: { nodes: 3, healthy: 2 },
      pistachio: { configured: true, healthy: true },
    });
    const node = (await stats()).nodes.find((entry) => entry.url === gamma.url)!;
    expect(node).toMatchObject({
      provider: 'bus',
      healthy: false,
      stake: 30,
      models: ['only-on-gamma'],
      last_probe: { ok: false },
    });
    expect(node.consecutive_failures).toBeGreaterThanOrEqual(3);

    gamma.setRefusing(false);
    await eventually(async () =>
      expect((await (await listModels()).json()).data).toContainEqual(bus('only-on-gamma')[0]),
    );
  });

  it('reports queue counts, throughput and every node in /admin/api/stats, for admins only', async () => {
    const submitted = await infq.chat(tenant.key, 'stats traffic', { model: 'shared-model' });
    expect(submitted.status).toBe(202);
    const { id } = await submitted.json();
    expect((await infq.jobFinal(tenant.key, id)).status).toBe('complete');
    const body = await stats();
    expect(body).toMatchObject({
      status: 'ok',
      queue: { backend, queued: expect.any(Number), complete: expect.any(Number) },
      throughput: { window_s: 60, completions: 1, errors: expect.any(Number) },
      upstreams: { bus: { nodes: 3, healthy: 3 }, pistachio: { configured: true, healthy: true } },
    });
    expect(body.nodes.map((node) => node.url)).toEqual([
      alpha.url,
      beta.url,
      gamma.url,
      pistachio.url,
    ]);
    const served = body.nodes.find(
      (node: { recent: { requests: number } }) => node.recent.requests,
    );
    expect(served).toMatchObject({
      provider: 'bus',
      healthy: true,
      models: expect.arrayContaining(['shared-model']),
      in_flight: 0,
      consecutive_failures: 0,
      recent: {
        window_s: 60,
        requests: 1,
        errors: 0,
        error_rate: 0,
        latency_ms: expect.any(Number),
      },
      last_probe: { ok: true, latency_ms: expect.any(Number), error: null },
    });
    expect(body.nodes[3]).toMatchObject({ provider: 'pistachio', stake: 1, models: ['x', 'y'] });

    await expectOpenAiError(
      await infq.fetch('/admin/api/stats', { headers: { authorization: `Bearer ${tenant.key}` } }),
      401,
      'invalid_api_key',
    );
  });

  it('refuses a model no configured backend serves with 404 model_not_found', async () => {
    await eventually(async () => expect((await (await listModels()).json()).data).toHaveLength(4));
    const unknown = await infq.chat(tenant.key, 'unknown model', { model: 'no-such-model' });
    const error = await expectOpenAiError(unknown, 404, 'model_not_found');
    expect(error.param).toBe('model');
    await expectOpenAiError(
      await infq.chat(tenant.key, 'unknown pistachio model', { model: 'pistachio/zzz' }),
      404,
      'model_not_found',
    );
    expect((await infq.chat(tenant.key, 'known', { model: 'shared-model' })).status).toBe(202);
    expect((await infq.chat(tenant.key, 'known', { model: 'pistachio/y' })).status).toBe(202);
  });

  it('answers /v1/models in under 50 ms while every node hangs', async () => {
    expect((await listModels()).status).toBe(200); // the key is cached from here on
    const nodes = [alpha, beta, gamma, pistachio];
    for (const node of nodes) node.modelsBehaviour = { type: 'hang' };
    await Promise.all(nodes.map((node) => node.nextModelRequest()));

    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await listModels('?include=pistachio');
      expect(response.status).toBe(200);
      await response.json();
      timings.push(performance.now() - started);
    }
    timings.sort((a, b) => a - b);
    expect(timings[2], `timings ${timings.join(', ')}`).toBeLessThan(50);
    expect(timings[4], `timings ${timings.join(', ')}`).toBeLessThan(250);

    // Probes that never answer count as failures: the nodes leave the catalogue.
    await eventually(async () => {
      const health = await (await infq.fetch('/health')).json();
      expect(health).toMatchObject({
        status: 'degraded',
        upstreams: { bus: { nodes: 3, healthy: 0 }, pistachio: { healthy: false } },
      });
    });
    const started = performance.now();
    expect(await (await listModels('?include=pistachio')).json()).toEqual({
      object: 'list',
      data: [],
    });
    expect(performance.now() - started).toBeLessThan(250);

    for (const node of nodes) node.modelsBehaviour = { type: 'ok' };
    await eventually(async () =>
      expect((await (await listModels('?include=pistachio')).json()).data).toHaveLength(6),
    );
  });
});

/** The parts of `GET /admin/api/stats` the tests navigate; the rest is asserted by shape. */
interface StatsBody {
  nodes: { url: string; consecutive_failures: number; recent: { requests: number } }[];
}
