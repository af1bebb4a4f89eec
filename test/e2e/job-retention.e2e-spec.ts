import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobRetention } from '../../src/retention/job-retention.service.js';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, Infq, QUEUE_BACKENDS } from '../support/infq-harness.js';

describe.each(QUEUE_BACKENDS)('job retention (%s backend)', (backend) => {
  let fake: FakeBackend;
  let infq: Infq;

  beforeAll(async () => {
    fake = await FakeBackend.start();
    infq = await Infq.start(backend, [fake], {
      RESULT_TTL_S: '3',
      DEAD_TTL_S: '5',
      MAX_RETRIES: '0',
    });
  });

  afterAll(async () => {
    await infq?.close();
    await fake?.close();
  });

  it('removes ended jobs past their retention even when no other job ends after them', async () => {
    const tenant = await infq.createTenant();
    fake.script('dies', { type: 'status', status: 400 });
    const completed = await infq.submit(tenant.key, 'completes');
    const dead = await infq.submit(tenant.key, 'dies');
    await infq.jobFinal(tenant.key, completed);
    await infq.jobFinal(tenant.key, dead);

    const retention = infq.app.get(JobRetention);
    // Each goes once its own retention has passed: the result after 3 s, the dead letter after 5 s.
    const removed: number[] = [];
    await eventually(async () => {
      removed.push(await retention.sweep());
      expect(removed.reduce((sum, count) => sum + count, 0)).toBe(2);
    }, 20_000);
    const auth = { authorization: `Bearer ${tenant.key}` };
    for (const id of [completed, dead]) {
      expect((await infq.fetch(`/v1/results/${id}`, { headers: auth })).status).toBe(404);
    }
    const health = await (await infq.fetch('/health')).json();
    expect(health.queue).toMatchObject({ complete: 0, dead: 0 });
  });
});
