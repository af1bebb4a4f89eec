import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../app.module.js';
import { loadConfig } from '../config/app-config.js';
import { buildOpenApiDocument, finishDocument, operationId } from './openapi-document.js';

type Operation = {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  requestBody?: { content: Record<string, { schema: { $ref?: string; type?: string } }> };
};

function operations(document: OpenAPIObject): [string, string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
      .map(
        ([method, operation]) =>
          [path, method, operation as Operation] as [string, string, Operation],
      ),
  );
}

describe('operationId', () => {
  it.each([
    ['ChatCompletionsController', 'create', 'createChatCompletion'],
    ['ResultsController', 'get', 'retrieveJob'],
    ['ResultsController', 'cancel', 'cancelJob'],
    ['ModelsController', 'list', 'listModels'],
    ['TenantsAdminController', 'create', 'createTenant'],
    ['ApiKeysAdminController', 'revoke', 'revokeApiKey'],
    ['GadgetsAdminController', 'list', 'listGadgets'],
    ['WidgetsController', 'retrieve', 'retrieveWidgets'],
  ])('%s.%s is %s', (controller, method, id) => {
    expect(operationId(controller, method)).toBe(id);
  });
});

describe('finishDocument', () => {
  const tenant = {
    type: 'object',
    properties: { id: { type: 'string' }, name: { type: 'string' } },
  };
  const finished = finishDocument({
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/admin/api/tenants': {
        post: {
          operationId: 'createTenant',
          security: [{ admin: [] }],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { name: { type: 'string', default: 'acme' } },
                },
              },
            },
          },
          responses: {
            '201': { description: '', content: { 'application/json': { schema: tenant } } },
          },
        },
        get: {
          operationId: 'listTenants',
          responses: {
            '200': {
              description: '',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { data: { type: 'array', items: tenant } },
                  },
                },
              },
            },
          },
        },
      },
      '/health': {
        get: {
          operationId: 'retrieveHealth',
          responses: {
            '503': {
              description: 'down',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
      '/v1/models': {
        get: { operationId: 'listModels', responses: { '200': { description: '' } } },
      },
    },
  });

  it('puts the public /v1 routes first and the admin routes last', () => {
    expect(Object.keys(finished.paths)).toEqual(['/v1/models', '/health', '/admin/api/tenants']);
  });

  it('names request and response schemas, and refers to a named shape where it recurs', () => {
    const schemas = finished.components!.schemas!;
    expect(schemas.Tenant).toEqual(tenant);
    // A default is the server's business: optional to send, so it moves into the description.
    expect(schemas.TenantCreateRequest).toEqual({
      type: 'object',
      properties: { name: { type: 'string', description: 'Default: "acme".' } },
    });
    expect(schemas.TenantList).toEqual({
      type: 'object',
      properties: { data: { type: 'array', items: { $ref: '#/components/schemas/Tenant' } } },
    });
    const post = finished.paths['/admin/api/tenants'].post as unknown as Operation;
    expect(post.requestBody!.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/TenantCreateRequest',
    });
  });

  it('declares the error shape on every operation, keeping a route’s own failure body', () => {
    const error = { $ref: '#/components/schemas/Error' };
    const post = finished.paths['/admin/api/tenants'].post as unknown as Operation;
    expect(Object.keys(post.responses).sort()).toEqual(['201', '400', '401', '503', 'default']);
    expect(post.responses['401'].content!['application/json'].schema).toEqual(error);
    const health = finished.paths['/health'].get as unknown as Operation;
    expect(health.responses['503'].content!['application/json'].schema).toEqual({ type: 'object' });
    expect(health.responses.default.content!['application/json'].schema).toEqual(error);
  });
});

describe('the whole app’s document', () => {
  let document: OpenAPIObject;

  beforeAll(async () => {
    // Preview mode: the module graph without providers, as `npm run cli -- openapi` builds it.
    const app = await NestFactory.create(
      AppModule.forRoot(loadConfig({}), 'postgres://preview@127.0.0.1/preview'),
      new FastifyAdapter(),
      { preview: true, logger: false },
    );
    try {
      document = buildOpenApiDocument(app, '0.0.0-test');
    } finally {
      await app.close();
    }
  });

  it('has unique, SDK-style operation ids and the error shape on every operation', () => {
    const all = operations(document);
    const ids = all.map(([, , operation]) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, method, operation] of all) {
      expect(operation.operationId, `${method} ${path}`).toMatch(/^[a-z]+[A-Z][A-Za-z]+$/);
      expect(
        operation.responses.default?.content?.['application/json'].schema,
        `${method} ${path}`,
      ).toEqual({ $ref: '#/components/schemas/Error' });
    }
    expect(ids).toEqual(
      expect.arrayContaining([
        'createChatCompletion',
        'retrieveJob',
        'cancelJob',
        'listModels',
        'createTenant',
      ]),
    );
  });

  it('starts with the public /v1 routes and points at the docs in the repository', () => {
    const paths = Object.keys(document.paths);
    const firstOther = paths.findIndex((path) => !path.startsWith('/v1/'));
    expect(firstOther).toBeGreaterThan(0);
    expect(paths.slice(firstOther).some((path) => path.startsWith('/v1/'))).toBe(false);
    expect(document.info.description).toContain('docs/api.md');
  });

  it('declares the tenant and admin security schemes', () => {
    expect(Object.keys(document.components!.securitySchemes!).sort()).toEqual([
      'admin',
      'admin-session',
      'bearer',
      'x-api-key',
    ]);
  });

  it('gives every JSON request and 2xx answer a named component schema', () => {
    for (const [path, method, operation] of operations(document)) {
      for (const media of Object.values(operation.requestBody?.content ?? {})) {
        if (media.schema.type === 'object' || media.schema.$ref)
          expect(media.schema.$ref, `${method} ${path} body`).toMatch(/^#\/components\/schemas\//);
      }
    }
    expect(Object.keys(document.components!.schemas!)).toEqual(
      expect.arrayContaining(['Error', 'Job', 'Tenant', 'TenantList', 'ModelList']),
    );
  });
});
