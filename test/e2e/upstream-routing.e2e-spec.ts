import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  Infq,
  QUEUE_BACKENDS,
  type JobBody,
  type TenantWithKey,
} from '../support/infq-harness.js';

const BIG_LIMITS = { rpm: 1_000_000, tokens_per_day: 1_000_000_000, max_concurrent: 100_000 };

/** Stake-weighted routing, failover, recovery and Pistachio, through the queue; both backends. */
describe.each(QUEUE_BACKENDS)('Inference Bus routing (%s backend)', (backend) => {
  let heavy: FakeBackend;
  let light: FakeBackend;
  let pistachio: FakeBackend;
  let infq: Infq;
  let tenant: TenantWithKey;

  beforeAll(async () => {
    [heavy, light, pistachio] = await Promise.all([
      FakeBackend.start({ models: ['fake-model'] }),
      FakeBackend.start({ models: ['fake-model'] }),
      FakeBackend.start({ models: ['x'] }),
    ]);
    infq = await Infq.start(backend, [heavy, light], {
      // Room for every job at once: with no node full, only stake decides where a job goes.
      BUS_NODES: `${heavy.url}=100:1000,${light.url}=25:1000`,
      BUS_API_KEY: 'bus-secret',
      PISTACHIO_URL: pistachio.url,
      PISTACHIO_API_KEY: 'pistachio-secret',
      UPSTREAM_PROBE_INTERVAL_MS: '300',
      // Room for a job to wait out a short outage of every node.
      MAX_RETRIES: '50',
      RETRY_MAX_MS: '300',
    });
    tenant = await infq.createTenant(BIG_LIMITS);
    await eventually(async () => {
      for (const node of await nodeStats()) expect(node.models).not.toBeNull();
    });
  });

  afterAll(async () => {
    await infq?.close();
    await Promise.all([heavy?.close(), light?.close(), pistachio?.close()]);
  });

  async function nodeStats(): Promise<NodeStats[]> {
    const response = await infq.admin('GET', '/stats');
    expect(response.status).toBe(200);
    return ((await response.json()) as { nodes: NodeStats[] }).nodes;
  }

  async function nodeState(node: FakeBackend): Promise<NodeStats> {
    const found = (await nodeStats()).find((stats) => stats.url === node.url);
    expect(found).toBeDefined();
    return found!;
  }

  /** An instance and the tenant whose key it is used with. */
  type Client = { infq: Infq; tenant: TenantWithKey };

  /** Submits `count` jobs (a few at a time) whose prompts contain `marker`; returns their ids. */
  async function submitMany(
    marker: string,
    count: number,
    model = 'fake-model',
    at: Client = { infq, tenant },
  ) {
    const ids: string[] = [];
    for (let start = 0; start < count; start += 25) {
      const batch = Array.from({ length: Math.min(25, count - start) }, async (_, offset) => {
        const response = await at.infq.chat(at.tenant.key, `${marker} #${start + offset}`, {
          model,
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as { id: string }).id;
      });
      ids.push(...(await Promise.all(batch)));
    }
    return ids;
  }

  async function finalJobs(ids: string[], at: Client = { infq, tenant }): Promise<JobBody[]> {
    const jobs: JobBody[] = [];
    for (let start = 0; start < ids.length; start += 25) {
      const batch = ids
        .slice(start, start + 25)
        .map((id) => at.infq.jobFinal(at.tenant.key, id, 30_000));
      jobs.push(...(await Promise.all(batch)));
    }
    return jobs;
  }

  it('shares 400 jobs between stakes 100 and 25 about 80/20', async () => {
    // An instance of its own with the default probe interval: the shared one probes every
    // 300 ms (for the outage cases below), so a loaded test process can miss three probes and
    // take the heavy node out for a moment, which is health, not weighting.
    const own = await Infq.start(backend, [heavy, light], {
      BUS_NODES: `${heavy.url}=100:1000,${light.url}=25:1000`,
      BUS_API_KEY: 'bus-secret',
    });
    try {
      const at = { infq: own, tenant: await own.createTenant(BIG_LIMITS) };
      const marker = `split-${backend}`;
      const ids = await submitMany(marker, 400, 'fake-model', at);
      await eventually(
        () => expect(heavy.completions(marker).length + light.completions(marker).length).toBe(400),
        40_000,
      );
      const jobs = await finalJobs(ids, at);
      expect(jobs.every((job) => job.status === 'complete' && job.retries === 0)).toBe(true);
      const heavyShare = heavy.completions(marker).length / 400;
      expect(heavyShare).toBeGreaterThanOrEqual(0.73);
      expect(heavyShare).toBeLessThanOrEqual(0.87);
      // Each request reached its node once: no duplicate from a failover.
      const prompts = [...heavy.completions(marker), ...light.completions(marker)].map(
        (request) => request.prompt,
      );
      expect(new Set(prompts).size).toBe(400);
    } finally {
      await own.close();
    }
  });

  it('sends the bus key to bus nodes, on probes and calls alike', () => {
    for (const request of [...heavy.requests, ...light.requests]) {
      expect(request.headers.authorization).toBe('Bearer bus-secret');
    }
    expect(heavy.modelRequests().length).toBeGreaterThan(0);
  });

  it('completes every job on the other node, with retries: 0, while one refuses connections', async () => {
    const marker = `failover-${backend}`;
    // The node with most of the stake goes down: most jobs try it first and fail over.
    heavy.setRefusing(true);
    const ids = await submitMany(marker, 30);
    const jobs = await finalJobs(ids);
    for (const job of jobs) expect(job).toMatchObject({ status: 'complete', retries: 0 });
    expect(light.completions(marker)).toHaveLength(30);
    expect(heavy.completions(marker)).toHaveLength(0);

    await eventually(async () => {
      expect(await nodeState(heavy)).toMatchObject({ healthy: false });
      expect(await nodeState(light)).toMatchObject({ healthy: true });
    });
    await eventually(async () => {
      const health = await (await infq.fetch('/health')).json();
      expect(health).toMatchObject({ status: 'ok', upstreams: { bus: { nodes: 2, healthy: 1 } } });
    });
  });

  it('sends traffic to a node again once it comes back', async () => {
    const marker = `comeback-${backend}`;
    heavy.setRefusing(false);
    await eventually(async () => expect(await nodeState(heavy)).toMatchObject({ healthy: true }));
    const jobs = await finalJobs(await submitMany(marker, 20));
    for (const job of jobs) expect(job).toMatchObject({ status: 'complete', retries: 0 });
    // 80% of the stake: all 20 missing it has a probability of 0.2^20.
    expect(heavy.completions(marker).length).toBeGreaterThan(0);
  });

  it('answers a stream whose backend says 502 at once, without trying another node', async () => {
    // Only a connection failure moves a stream to the next node; an HTTP error is the answer.
    const marker = `stream-502-${backend}`;
    for (const node of [heavy, light]) node.script(marker, { type: 'status', status: 502 });
    const response = await infq.chat(tenant.key, marker, { stream: true });
    expect(response.status).toBe(502);
    expect((await response.json()).error.code).toBe('upstream_error');
    expect(heavy.completions(marker).length + light.completions(marker).length).toBe(1);
  });

  it('retries a job as no_upstream_available while no node is healthy, and completes it after', async () => {
    heavy.setRefusing(true);
    light.setRefusing(true);
    await eventually(async () => {
      const health = await (await infq.fetch('/health')).json();
      expect(health).toMatchObject({
        status: 'degraded',
        upstreams: { bus: { nodes: 2, healthy: 0 } },
      });
    });
    const [id] = await submitMany(`outage-${backend}`, 1);
    const waiting = await infq.jobUntil(tenant.key, id, (job) => job.retries >= 1);
    // Between attempts the job waits out its backoff; the next attempt may already have begun.
    expect(['queued', 'processing']).toContain(waiting.status);
    expect(waiting.error).toContain('no upstream available');

    heavy.setRefusing(false);
    light.setRefusing(false);
    const job = await infq.jobFinal(tenant.key, id, 20_000);
    expect(job.status).toBe('complete');
    expect(job.retries).toBeGreaterThanOrEqual(1);
  });

  it('sends a pistachio/x job to Pistachio with model x', async () => {
    const marker = `pistachio-${backend}`;
    const [id] = await submitMany(marker, 1, 'pistachio/x');
    const job = await infq.jobFinal(tenant.key, id);
    expect(job).toMatchObject({ status: 'complete', model: 'pistachio/x', retries: 0 });
    const [sent] = pistachio.completions(marker);
    expect(sent.body).toMatchObject({ model: 'x', messages: [{ role: 'user' }] });
    expect(sent.headers.authorization).toBe('Bearer pistachio-secret');
    expect(pistachio.modelRequests()[0].headers.authorization).toBe('Bearer pistachio-secret');
    expect(heavy.completions(marker)).toHaveLength(0);
    expect(light.completions(marker)).toHaveLength(0);
  });
});

interface NodeStats {
  url: string;
  healthy: boolean;
  models: string[] | null;
}
