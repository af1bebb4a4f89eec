import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { expectOpenAiError, Infq } from '../support/infq-harness.js';

const ASSETS = resolve(import.meta.dirname, '../../admin-ui/dist/assets');

/** The built dashboard as the app serves it at /admin/, beside the admin API. */
describe('dashboard static files (redis backend)', () => {
  let fake: FakeBackend;
  let infq: Infq;

  beforeAll(async () => {
    fake = await FakeBackend.start();
    infq = await Infq.start('redis', [fake]);
  });

  afterAll(async () => {
    await infq?.close();
    await fake?.close();
  });

  it('serves the app at /admin/ and every client-side route, never cached, framed or sniffed', async () => {
    for (const path of ['/admin/', '/admin', '/admin/tenants/some-id', '/admin/dead-letters']) {
      const response = await infq.fetch(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toContain('<div id="root">');
    }
  });

  it('serves hashed assets for good, and 404s for missing ones', async () => {
    const script = readdirSync(ASSETS).find((name) => name.endsWith('.js'))!;
    const asset = await infq.fetch(`/admin/assets/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // Read to the end: an unread answer this large keeps its connection busy and the app open.
    expect((await asset.text()).length).toBeGreaterThan(1_000);
    expect((await infq.fetch('/admin/assets/missing.js')).status).toBe(404);
    const traversal = await infq.fetch('/admin/assets/..%2f..%2f..%2fpackage.json');
    expect(traversal.status).toBe(404);
    expect(await traversal.text()).not.toContain('"dependencies"');
  });

  it('leaves /admin/api to the API: unknown routes answer in the error shape', async () => {
    await expectOpenAiError(await infq.fetch('/admin/api/nope'), 404, 'route_not_found');
    await expectOpenAiError(await infq.fetch('/admin/api'), 404, 'route_not_found');
  });

  it('documents the session endpoints in the OpenAPI document', async () => {
    const document = await (await infq.fetch('/docs-json')).json();
    // Bodies are named component schemas: follow a `$ref` to the schema itself.
    const resolve = (schema: { $ref?: string; required?: string[]; properties?: object }) =>
      schema.$ref
        ? (document.components.schemas[schema.$ref.split('/').pop()!] as typeof schema)
        : schema;
    const session = document.paths['/admin/api/session'];
    expect(Object.keys(session).sort()).toEqual(['delete', 'get', 'post']);
    expect(resolve(session.post.requestBody.content['application/json'].schema).required).toEqual([
      'email',
      'password',
    ]);
    expect(
      resolve(session.get.responses['200'].content['application/json'].schema).properties,
    ).toHaveProperty('csrf_token');
  });
});
