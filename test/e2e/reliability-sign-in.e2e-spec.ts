import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { Infq } from '../support/infq-harness.js';

const EMAIL = 'reliability-admin@example.com';
const PASSWORD = 'the real admin password';

/** `POST /admin/api/session` from a chosen loopback address (127.0.0.0/8 all reach the server). */
function signInFrom(
  base: string,
  address: string,
  email: string,
  password: string,
): Promise<{ status: number; body: string; retryAfter: string | undefined }> {
  const url = new URL(base);
  const body = JSON.stringify({ email, password });
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/admin/api/session',
        localAddress: address,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfter: response.headers['retry-after'],
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

// Each checked password is a real scrypt (or an imitation as long): slow on a loaded machine.
describe('reliability 17: sign-in abuse', { timeout: 120_000 }, () => {
  let fake: FakeBackend;
  let infq: Infq;

  beforeAll(async () => {
    fake = await FakeBackend.start();
    infq = await Infq.start('postgres', [fake], { ADMIN_EMAIL: EMAIL, ADMIN_PASSWORD: PASSWORD });
  });

  afterAll(async () => {
    await infq?.close();
    await fake?.close();
  });

  it('10 wrong passwords from one address do not lock the admin out of another', async () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await signInFrom(infq.url, '127.0.1.1', EMAIL, `guess ${attempt}`)).status).toBe(401);
    }
    const blocked = await signInFrom(infq.url, '127.0.1.1', EMAIL, PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    expect((await signInFrom(infq.url, '127.0.1.2', EMAIL, PASSWORD)).status).toBe(201);
  });

  it('answers known and unknown emails identically, wrong password and throttled alike', async () => {
    const unknown = `nobody-${randomBytes(4).toString('hex')}@example.com`;
    const answers = async (email: string, address: string): Promise<string[]> => {
      const seen: string[] = [];
      for (let attempt = 0; attempt < 11; attempt++) {
        const { status, body } = await signInFrom(infq.url, address, email, `wrong ${attempt}`);
        seen.push(`${status} ${body}`);
      }
      return seen;
    };
    const known = await answers(EMAIL, '127.0.2.1');
    expect(await answers(unknown, '127.0.2.2')).toEqual(known);
    expect(known.slice(0, 10).every((answer) => answer.startsWith('401 '))).toBe(true);
    expect(known[10].startsWith('429 ')).toBe(true);
  });

  it('an unknown email takes about as long as a known one, without the hash', async () => {
    const timed = async (email: string, address: string): Promise<number> => {
      const started = performance.now();
      expect((await signInFrom(infq.url, address, email, 'not it')).status).toBe(401);
      return performance.now() - started;
    };
    const median = (values: number[]): number =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const knownTimes: number[] = [];
    const unknownTimes: number[] = [];
    for (let round = 0; round < 5; round++) {
      knownTimes.push(await timed(EMAIL, `127.0.3.${round + 1}`));
      unknownTimes.push(await timed(`ghost${round}@example.com`, `127.0.3.${round + 101}`));
    }
    // Same order of magnitude; the imitation follows a moving average of real hashes.
    expect(median(unknownTimes)).toBeGreaterThan(median(knownTimes) / 3);
    expect(median(unknownTimes)).toBeLessThan(median(knownTimes) * 3);
  });

  it('limits attempts per address across emails', async () => {
    // At once: every attempt is counted before any password is checked.
    const statuses = await Promise.all(
      Array.from({ length: 31 }, (_, attempt) =>
        signInFrom(infq.url, '127.0.4.1', `spray-${attempt}@example.com`, 'Winter2026!').then(
          (answer) => answer.status,
        ),
      ),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(1);
    expect((await signInFrom(infq.url, '127.0.4.2', EMAIL, PASSWORD)).status).toBe(201);
  });

  it('300 concurrent sign-ins: 10 checked, the rest refused, and the service keeps answering', async () => {
    const started = performance.now();
    const health = (async () => {
      const response = await infq.fetch('/health');
      return { status: response.status, ms: performance.now() - started };
    })();
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        signInFrom(infq.url, '127.0.5.1', EMAIL, `concurrent ${index}`),
      ),
    );
    const statuses = results.map((result) => result.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(290);
    expect((await health).status).toBe(200);
    expect((await signInFrom(infq.url, '127.0.5.2', EMAIL, PASSWORD)).status).toBe(201);
  });
});
