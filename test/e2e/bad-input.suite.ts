import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  ADMIN_TOKEN,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';

interface Probe {
  name: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Leave out the tenant key (header probes set their own). */
  noKey?: boolean;
}

const chat = (fields: Record<string, unknown>): string =>
  JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], ...fields });
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

/** Malformed requests of every kind: each must get a 4xx in the error shape, never a 500. */
const PROBES: Probe[] = [
  // JSON
  { name: 'truncated object', body: '{"model":' },
  { name: 'lone brace', body: '{' },
  { name: 'null', body: 'null' },
  { name: 'a string', body: '"hello"' },
  { name: 'a number', body: '42' },
  { name: 'an array', body: '[]' },
  {
    name: 'trailing comma',
    body: '{"model":"fake-model","messages":[{"role":"user","content":"x"}],}',
  },
  { name: 'single quotes', body: "{'model':'fake-model'}" },
  {
    name: 'NaN',
    body: '{"model":"fake-model","messages":[{"role":"user","content":"x"}],"temperature":NaN}',
  },
  { name: 'empty body', body: '' },
  { name: 'whitespace body', body: '   \n' },
  { name: 'deeply nested', body: `{"model":"fake-model","messages":${nested(100_000)}}` },
  // types
  { name: 'model is a number', body: chat({ model: 7 }) },
  { name: 'model is an array', body: chat({ model: ['fake-model'] }) },
  { name: 'model is empty', body: chat({ model: '' }) },
  { name: 'model has a NUL', body: chat({ model: 'fake\u0000model' }) },
  { name: 'model is too long', body: chat({ model: 'm'.repeat(300) }) },
  { name: 'model missing', body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }) },
  { name: 'messages missing', body: JSON.stringify({ model: 'fake-model' }) },
  { name: 'messages is a string', body: chat({ messages: 'hi' }) },
  { name: 'messages is an object', body: chat({ messages: { role: 'user' } }) },
  { name: 'messages is empty', body: chat({ messages: [] }) },
  { name: 'message is a number', body: chat({ messages: [1] }) },
  { name: 'message without role', body: chat({ messages: [{ content: 'x' }] }) },
  { name: 'role is a number', body: chat({ messages: [{ role: 1, content: 'x' }] }) },
  { name: 'message without content', body: chat({ messages: [{ role: 'user' }] }) },
  { name: 'stream is a string', body: chat({ stream: 'yes' }) },
  { name: 'stream is a number', body: chat({ stream: 1 }) },
  { name: 'stream_options is a string', body: chat({ stream_options: 'usage' }) },
  { name: 'stream_options is an array', body: chat({ stream_options: [] }) },
  { name: 'max_tokens is zero', body: chat({ max_tokens: 0 }) },
  { name: 'max_tokens is negative', body: chat({ max_tokens: -5 }) },
  { name: 'max_tokens is fractional', body: chat({ max_tokens: 1.5 }) },
  { name: 'max_tokens is a string', body: chat({ max_tokens: '10' }) },
  { name: 'max_completion_tokens is huge', body: chat({ max_completion_tokens: 1e300 }) },
  // sizes and encodings
  { name: 'body over MAX_BODY_BYTES', body: chat({ padding: 'x'.repeat(1_100_000) }) },
  { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  { name: 'UTF-16 body', body: Buffer.from(chat({}), 'utf16le') },
  {
    name: 'gzip claimed, plain sent',
    headers: { 'content-encoding': 'gzip' },
    body: 'not gzip at all',
  },
  // content types
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: chat({}) },
  {
    name: 'form encoded',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'model=fake-model',
  },
  {
    name: 'multipart',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x--',
  },
  { name: 'xml', headers: { 'content-type': 'application/xml' }, body: '<model/>' },
  { name: 'no content type', headers: { 'content-type': '' }, body: chat({}) },
  { name: 'lookalike json type', headers: { 'content-type': 'application/jsonx' }, body: chat({}) },
  // methods and paths
  { name: 'GET completions', method: 'GET' },
  { name: 'PUT completions', method: 'PUT', body: chat({}) },
  { name: 'DELETE completions', method: 'DELETE' },
  { name: 'extra path segment', path: '/v1/chat/completions/extra', body: chat({}) },
  { name: 'unknown version', path: '/v2/chat/completions', body: chat({}) },
  { name: 'results without id', method: 'GET', path: '/v1/results/' },
  { name: 'results traversal', method: 'GET', path: '/v1/results/..%2F..%2Fetc%2Fpasswd' },
  { name: 'results NUL id', method: 'GET', path: '/v1/results/%00' },
  {
    name: 'results bad wait',
    method: 'GET',
    path: '/v1/results/00000000-0000-4000-8000-000000000000?wait=abc',
  },
  { name: 'very long path', method: 'GET', path: `/v1/results/${'a'.repeat(10_000)}` },
  {
    name: 'admin tenant bad id',
    method: 'GET',
    path: '/admin/api/tenants/not-a-uuid',
    noKey: true,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  },
  {
    name: 'admin create without name',
    method: 'POST',
    path: '/admin/api/tenants',
    noKey: true,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: '{}',
  },
  {
    name: 'admin dead letters bad limit',
    method: 'GET',
    path: '/admin/api/dead-letters?limit=-1',
    noKey: true,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  },
  // headers
  { name: 'Bearer without key', noKey: true, headers: { authorization: 'Bearer' }, body: chat({}) },
  {
    name: 'Basic auth',
    noKey: true,
    headers: { authorization: 'Basic dXNlcjpwYXNz' },
    body: chat({}),
  },
  {
    name: 'key one character short',
    noKey: true,
    headers: { authorization: `Bearer inf_${'a'.repeat(31)}` },
    body: chat({}),
  },
  { name: 'empty X-API-Key', noKey: true, headers: { 'x-api-key': '' }, body: chat({}) },
  {
    name: 'key with a space',
    noKey: true,
    headers: { 'x-api-key': `inf_${'a'.repeat(20)} ${'b'.repeat(20)}` },
    body: chat({}),
  },
];

export function describeBadInput(backend: QueueBackendKind): void {
  describe(`bad input (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let tenant: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake]);
      tenant = await infq.createTenant();
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it(`answers ${PROBES.length} malformed requests with 4xx in the error shape and stays healthy`, async () => {
      expect(PROBES.length).toBeGreaterThanOrEqual(40);
      const failures: string[] = [];
      for (const probe of PROBES) {
        const { status, text } = await send(infq.url, probe, tenant.key);
        let body: { error?: { message?: unknown; type?: unknown; code?: unknown } } | undefined;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const shaped =
          typeof body?.error?.message === 'string' &&
          typeof body.error.type === 'string' &&
          typeof body.error.code === 'string';
        if (status < 400 || status >= 500 || !shaped)
          failures.push(`${probe.name}: ${status} ${text.slice(0, 120)}`);
      }
      expect(failures).toEqual([]);
      const health = await infq.fetch('/health');
      expect(health.status).toBe(200);
    });

    it('completes a job whose prompt and answer carry \\u0000', async () => {
      const id = await infq.submit(tenant.key, 'nul \u0000 in the prompt');
      const job = await infq.jobFinal(tenant.key, id);
      expect(job.status).toBe('complete');
      expect(
        (job.result as { choices: { message: { content: string } }[] }).choices[0].message.content,
      ).toBe('echo: nul \u0000 in the prompt');
    });

    it('ends a job whose backend answers malformed JSON (a raw NUL) instead of leaving it stuck', async () => {
      fake.script('raw-nul', {
        type: 'raw',
        status: 200,
        body: Buffer.from('{"choices":"\u0000"'),
      });
      const id = await infq.submit(tenant.key, 'raw-nul');
      const job = await infq.jobFinal(tenant.key, id);
      expect(job.status).toBe('dead');
      expect(job.error).toContain('invalid response');
    });
  });
}

/** Raw HTTP, so that bodies, encodings and headers go out exactly as written. */
function send(base: string, probe: Probe, key: string): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  const body = probe.body === undefined ? undefined : Buffer.from(probe.body);
  const headers: Record<string, string> = {
    ...(probe.noKey ? {} : { authorization: `Bearer ${key}` }),
    ...(body !== undefined && {
      'content-type': 'application/json',
      'content-length': String(body.length),
    }),
    ...probe.headers,
  };
  if (headers['content-type'] === '') delete headers['content-type'];
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: probe.method ?? 'POST',
        path: probe.path ?? '/v1/chat/completions',
        headers,
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
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
