import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { Infq, type QueueBackendKind, type TenantWithKey } from '../support/infq-harness.js';

/** One malformed request, as a queued job (`stream` false) or as a stream. */
interface MalformedKind {
  name: string;
  body: (stream: boolean) => string | Buffer;
  headers?: Record<string, string>;
}

const MESSAGES = [{ role: 'user', content: 'hi' }];
const valid = (stream: boolean, fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'fake-model',
  messages: MESSAGES,
  ...(stream && { stream: true }),
  ...fields,
});
const json = (stream: boolean, fields: Record<string, unknown> = {}): string =>
  JSON.stringify(valid(stream, fields));
const streamField = (stream: boolean): string => (stream ? '"stream":true,' : '');
const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

/** Twenty kinds of malformed request (scenario 15 of RELIABILITY.md). */
const KINDS: MalformedKind[] = [
  { name: 'truncated JSON', body: (s) => json(s).slice(0, -7) },
  {
    name: 'byte order mark',
    body: (s) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json(s))]),
  },
  {
    name: 'invalid UTF-8',
    body: (s) =>
      Buffer.concat([Buffer.from(json(s).slice(0, -1)), Buffer.from(',"x":"\xff\xfe"}', 'latin1')]),
  },
  {
    name: '10,000-deep nesting in messages',
    body: (s) => `{${streamField(s)}"model":"fake-model","messages":${deep(10_000)}}`,
  },
  {
    name: '10,000-deep nesting in a passed-through field',
    body: (s) =>
      `{${streamField(s)}"model":"fake-model","messages":${JSON.stringify(MESSAGES)},"tools":${deep(10_000)}}`,
  },
  {
    name: '65-deep objects in a message',
    body: (s) =>
      `{${streamField(s)}"model":"fake-model","messages":[{"role":"user","content":"x","meta":${'{"a":'.repeat(65)}1${'}'.repeat(65)}}]}`,
  },
  {
    name: 'duplicate model key',
    body: (s) =>
      `{${streamField(s)}"model":"fake-model","model":"other","messages":${JSON.stringify(MESSAGES)}}`,
  },
  {
    name: 'duplicate stream key',
    body: () =>
      `{"stream":false,"stream":true,"model":"fake-model","messages":${JSON.stringify(MESSAGES)}}`,
  },
  {
    name: '__proto__ carrying the model',
    body: (s) =>
      `{${streamField(s)}"__proto__":{"model":"fake-model"},"messages":${JSON.stringify(MESSAGES)}}`,
  },
  { name: 'NUL in the model', body: (s) => json(s, { model: 'fake\u0000model' }) },
  { name: 'huge max_tokens', body: (s) => json(s, { max_tokens: 1e300 }) },
  { name: 'max_tokens over the cap', body: (s) => json(s, { max_tokens: 1_000_001 }) },
  { name: 'huge n', body: (s) => json(s, { n: 100_000 }) },
  { name: 'n is zero', body: (s) => json(s, { n: 0 }) },
  { name: 'model is a number', body: (s) => json(s, { model: 42 }) },
  { name: 'messages is a string', body: (s) => json(s, { messages: 'hi' }) },
  { name: 'stream is a string', body: () => json(false, { stream: 'true' }) },
  {
    name: 'NaN literal',
    body: (s) => `{${streamField(s)}"model":"fake-model","messages":[],"top_p":NaN}`,
  },
  { name: 'UTF-16 body', body: (s) => Buffer.from(json(s), 'utf16le') },
  { name: '20 KiB header', body: (s) => json(s), headers: { 'x-padding': 'p'.repeat(20 * 1024) } },
];

const REPEATS = 5;
const CONCURRENCY = 20;

export function describeReliabilityInput(backend: QueueBackendKind): void {
  describe(`reliability 14 and 15: slow and malformed requests (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let tenant: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake], {
        HTTP_HEADERS_TIMEOUT_MS: '1000',
        HTTP_REQUEST_TIMEOUT_MS: '2000',
      });
      tenant = await infq.createTenant();
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it(`reliability 15: ${KINDS.length} malformed kinds, queued and streamed, all answer 4xx in the error shape`, async () => {
      expect(KINDS.length).toBeGreaterThanOrEqual(20);
      const callsBefore = fake.completions().length;
      const work = KINDS.flatMap((kind) =>
        [false, true].flatMap((stream) =>
          Array.from({ length: REPEATS }, () => ({ kind, stream })),
        ),
      );
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      const validLatencies: number[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < work.length) {
          const { kind, stream } = work[next++];
          const { status, text } = await send(
            infq.url,
            tenant.key,
            kind.body(stream),
            kind.headers,
          );
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status < 400 || status >= 500 || !isErrorShape(text)) {
            failures.push(
              `${kind.name} (${stream ? 'streamed' : 'queued'}): ${status} ${text.slice(0, 160)}`,
            );
          }
        }
      };
      // Valid traffic alongside: it must keep being served.
      let malformedDone = false;
      const validTraffic = (async () => {
        while (!malformedDone) {
          const started = performance.now();
          const response = await infq.chat(tenant.key, 'valid alongside');
          expect(response.status).toBe(202);
          await response.body?.cancel();
          validLatencies.push(performance.now() - started);
        }
      })();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      malformedDone = true;
      await validTraffic;

      expect(failures).toEqual([]);
      expect([...statuses.keys()].every((status) => status >= 400 && status < 500)).toBe(true);
      const leaked = fake
        .completions()
        .slice(callsBefore)
        .filter((request) => !request.prompt.includes('valid alongside'));
      expect(leaked).toEqual([]);
      expect(validLatencies.length).toBeGreaterThan(0);
      expect((await infq.fetch('/health')).status).toBe(200);
    });

    it('reliability 15: a 20 KiB header answers 431 headers_too_large in the error shape', async () => {
      const { status, text } = await send(infq.url, tenant.key, json(false), {
        'x-padding': 'p'.repeat(20 * 1024),
      });
      expect(status).toBe(431);
      expect(JSON.parse(text)).toMatchObject({
        error: { code: 'headers_too_large', type: 'invalid_request_error', param: null },
      });
    });

    it('reliability 15: nesting and duplicate keys are named in the answer', async () => {
      const deepAnswer = await send(
        infq.url,
        tenant.key,
        `{"model":"fake-model","messages":${deep(5_000)}}`,
      );
      expect(deepAnswer.status).toBe(400);
      expect(JSON.parse(deepAnswer.text)).toMatchObject({ error: { code: 'invalid_json' } });
      expect(deepAnswer.text).toContain('64 levels');
      const duplicate = await send(
        infq.url,
        tenant.key,
        `{"model":"fake-model","messages":[{"role":"user","role":"system","content":"x"}]}`,
      );
      expect(duplicate.status).toBe(400);
      expect(JSON.parse(duplicate.text)).toMatchObject({
        error: { code: 'invalid_json', param: 'messages[0].role' },
      });
    });

    it('reliability 14: 50 slow connections are closed by the header and request timeouts with a 408', async () => {
      const slowHeaders = Array.from({ length: 25 }, () => slowConnection(infq.url, 'headers'));
      const slowBodies = Array.from({ length: 25 }, () => slowConnection(infq.url, 'body'));
      const latencies: number[] = [];
      const normal = (async () => {
        for (let index = 0; index < 20; index++) {
          const started = performance.now();
          const response = await infq.fetch('/health');
          expect(response.status).toBe(200);
          await response.body?.cancel();
          latencies.push(performance.now() - started);
        }
      })();
      const answers = await Promise.all([...slowHeaders, ...slowBodies]);
      await normal;
      for (const answer of answers) {
        expect(answer.received).toMatch(/^HTTP\/1\.1 408 /);
        expect(answer.received).toContain('"code":"request_timeout"');
        // Closed by the server: within the request timeout plus Node's 1 s checking interval.
        expect(answer.closedAfterMs).toBeLessThan(5_000);
      }
      expect(latencies).toHaveLength(20);
    });
  });
}

const isErrorShape = (text: string): boolean => {
  try {
    const body = JSON.parse(text) as { error?: Record<string, unknown> };
    return (
      typeof body.error?.message === 'string' &&
      typeof body.error.type === 'string' &&
      typeof body.error.code === 'string' &&
      'param' in body.error
    );
  } catch {
    return false;
  }
};

/** Raw HTTP, so that bodies and headers go out exactly as written. */
function send(
  base: string,
  key: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  const bytes = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/v1/chat/completions',
        agent: false,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': String(bytes.length),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(bytes);
  });
}

/** A client trickling its headers (or its body) one byte every 200 ms until the server hangs up. */
async function slowConnection(
  base: string,
  what: 'headers' | 'body',
): Promise<{ received: string; closedAfterMs: number }> {
  const url = new URL(base);
  const socket: Socket = connect(Number(url.port), url.hostname);
  await once(socket, 'connect');
  const started = performance.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.write(
    what === 'headers'
      ? 'POST /v1/chat/completions HTTP/1.1\r\nHost: infq\r\n'
      : 'POST /v1/chat/completions HTTP/1.1\r\nHost: infq\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
  );
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write(what === 'headers' ? 'X' : ' ');
  }, 200);
  await once(socket, 'close');
  clearInterval(drip);
  return {
    received: Buffer.concat(chunks).toString('utf8'),
    closedAfterMs: performance.now() - started,
  };
}
