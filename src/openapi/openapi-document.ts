import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { isDeepStrictEqual } from 'node:util';

type Json = Record<string, unknown>;
type Operation = {
  operationId?: string;
  tags?: string[];
  parameters?: { in?: string }[];
  requestBody?: { content?: Record<string, { schema?: Json }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Json }> }>;
  security?: unknown[];
};

/**
 * Operation ids by `Controller.method`, named the way OpenAI's SDKs name theirs, so generated
 * clients read like them. A route missing here still gets a camelCase id (see `operationId`).
 */
const OPERATION_IDS: Record<string, string> = {
  'ChatCompletionsController.create': 'createChatCompletion',
  'ResultsController.get': 'retrieveJob',
  'ResultsController.cancel': 'cancelJob',
  'ModelsController.list': 'listModels',
  'FilesController.upload': 'createFile',
  'FilesController.list': 'listFiles',
  'FilesController.get': 'retrieveFile',
  'FilesController.content': 'retrieveFileContent',
  'FilesController.delete': 'deleteFile',
  'BatchesController.create': 'createBatch',
  'BatchesController.list': 'listBatches',
  'BatchesController.get': 'retrieveBatch',
  'BatchesController.cancel': 'cancelBatch',
  'HealthController.get': 'retrieveHealth',
  'HealthController.live': 'checkLiveness',
  'HealthController.ready': 'checkReadiness',
  'MetricsController.scrape': 'retrieveMetrics',
  'TenantsAdminController.create': 'createTenant',
  'TenantsAdminController.list': 'listTenants',
  'TenantsAdminController.get': 'retrieveTenant',
  'TenantsAdminController.update': 'updateTenant',
  'ApiKeysAdminController.issue': 'createApiKey',
  'ApiKeysAdminController.list': 'listApiKeys',
  'ApiKeysAdminController.revoke': 'revokeApiKey',
  'JobsAdminController.deadLetters': 'listDeadLetters',
  'JobsAdminController.retry': 'retryJob',
  'JobsAdminController.delete': 'deleteJob',
  'StatsAdminController.get': 'retrieveStats',
  'AdminSessionController.signIn': 'createAdminSession',
  'AdminSessionController.whoAmI': 'retrieveAdminSession',
  'AdminSessionController.signOut': 'deleteAdminSession',
  'WebhooksAdminController.create': 'createWebhookEndpoint',
  'WebhooksAdminController.list': 'listWebhookEndpoints',
  'WebhooksAdminController.update': 'updateWebhookEndpoint',
  'WebhooksAdminController.delete': 'deleteWebhookEndpoint',
  'WebhooksAdminController.deliveries': 'listWebhookDeliveries',
  'WebhooksAdminController.redeliver': 'redeliverWebhookDelivery',
  'BatchesAdminController.list': 'listAdminBatches',
  'BatchesAdminController.cancel': 'cancelAdminBatch',
  'BatchesAdminController.content': 'retrieveAdminFileContent',
  'AuditAdminController.list': 'listAuditEvents',
};

/** Names of the component schemas, by the operation whose body or 2xx answer first has them. */
const SCHEMA_NAMES: Record<string, { request?: string; response?: string }> = {
  createChatCompletion: { request: 'ChatCompletionRequest', response: 'ChatCompletion' },
  retrieveJob: { response: 'Job' },
  listModels: { response: 'ModelList' },
  createFile: { request: 'FileUploadRequest', response: 'File' },
  listFiles: { response: 'FileList' },
  deleteFile: { response: 'DeletedFile' },
  createBatch: { request: 'BatchCreateRequest', response: 'Batch' },
  listBatches: { response: 'BatchList' },
  retrieveHealth: { response: 'Health' },
  checkLiveness: { response: 'Liveness' },
  checkReadiness: { response: 'Readiness' },
  createTenant: { request: 'TenantCreateRequest', response: 'Tenant' },
  listTenants: { response: 'TenantList' },
  updateTenant: { request: 'TenantUpdateRequest' },
  createApiKey: { request: 'ApiKeyCreateRequest', response: 'ApiKeyWithSecret' },
  listApiKeys: { response: 'ApiKeyList' },
  revokeApiKey: { response: 'ApiKey' },
  listDeadLetters: { response: 'DeadLetterList' },
  deleteJob: { response: 'DeletedJob' },
  retrieveStats: { response: 'Stats' },
  createAdminSession: { request: 'AdminSignInRequest', response: 'AdminSession' },
  createWebhookEndpoint: {
    request: 'WebhookEndpointCreateRequest',
    response: 'WebhookEndpointWithSecret',
  },
  listWebhookEndpoints: { response: 'WebhookEndpointList' },
  updateWebhookEndpoint: { request: 'WebhookEndpointUpdateRequest', response: 'WebhookEndpoint' },
  listWebhookDeliveries: { response: 'WebhookDeliveryList' },
  redeliverWebhookDelivery: { response: 'WebhookDelivery' },
  deleteWebhookEndpoint: { response: 'DeletedWebhookEndpoint' },
  listAdminBatches: { response: 'AdminBatchList' },
  cancelAdminBatch: { response: 'AdminBatch' },
  deleteAdminSession: { response: 'SignedOut' },
  listAuditEvents: { response: 'AuditEventList' },
};

/** Where each family of routes sorts: API consumers read the public `/v1` routes first. */
const PATH_ORDER = [
  /^\/v1\/chat\//,
  /^\/v1\/results/,
  /^\/v1\/models/,
  /^\/v1\/files/,
  /^\/v1\/batches/,
  /^\/v1\//,
  /^\/health/,
  /^\/metrics/,
  /^\/admin\//,
];

const TAGS = [
  { name: 'chat', description: 'Chat completions: queued, waited for, or streamed' },
  { name: 'results', description: 'Jobs: read, long-poll, cancel' },
  { name: 'models', description: 'Models the healthy backends serve' },
  { name: 'files', description: 'Batch input and output files' },
  { name: 'batches', description: "OpenAI's Batch API" },
  { name: 'health', description: 'Liveness, readiness and status; no key' },
  { name: 'metrics', description: 'Prometheus scrape endpoint' },
];

const ERROR_SCHEMA: Json = {
  type: 'object',
  description: "Every non-2xx answer, in OpenAI's error shape",
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: {
          type: 'string',
          description: 'human readable; names the job id where one exists',
        },
        type: {
          type: 'string',
          example: 'rate_limit_error',
          description:
            'invalid_request_error, authentication_error, permission_error, not_found_error, conflict_error, rate_limit_error, upstream_error or service_unavailable',
        },
        param: {
          type: 'string',
          nullable: true,
          description: 'the offending field, for invalid_value',
        },
        code: { type: 'string', nullable: true, example: 'rate_limit_exceeded' },
      },
    },
  },
};

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid JSON, a missing field or an invalid value',
  '401': 'Missing or invalid key or token',
  '404': 'No such object, or not visible to this caller',
  '429': 'Over a limit; see Retry-After',
  '503': 'The database or the queue store is unreachable; see Retry-After',
  default: 'Any other error, in the same shape (413, 415, 422, 431, 5xx)',
};

/** The id of a route: from the table above, else `<method><Controller>` in camelCase. */
export function operationId(controllerKey: string, methodKey: string): string {
  const known = OPERATION_IDS[`${controllerKey}.${methodKey}`];
  if (known) return known;
  const subject = controllerKey.replace(/(Admin)?Controller$/, '');
  return `${methodKey}${subject.charAt(0).toUpperCase()}${subject.slice(1)}`;
}

/**
 * The OpenAPI document served at `/docs` and checked in as `admin-ui/openapi.json`: security
 * schemes, SDK-style operation ids, named component schemas, the error shape on every
 * operation, public routes first.
 */
export function buildOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('infq')
    .setDescription(
      'An OpenAI-compatible inference queue proxy. The contract, with every status, header and ' +
        "limit, is docs/api.md in infq's repository; operators read docs/operations.md.",
    )
    .setVersion(version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Tenant key: inf_…' }, 'bearer')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'Tenant key: inf_…' },
      'x-api-key',
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' }, 'admin')
    .addCookieAuth('infq_admin_session', { type: 'apiKey', in: 'cookie' }, 'admin-session');
  for (const tag of TAGS) config.addTag(tag.name, tag.description);
  const document = SwaggerModule.createDocument(app, config.build(), {
    operationIdFactory: operationId,
  });
  return finishDocument(document);
}

/** Post-processing shared by the served and the checked-in document; exported for its test. */
export function finishDocument(document: OpenAPIObject): OpenAPIObject {
  const schemas: Record<string, Json> = { Error: ERROR_SCHEMA };
  const paths = Object.entries(document.paths).sort(([a], [b]) => pathRank(a) - pathRank(b));
  for (const [path, item] of paths) {
    for (const [method, value] of Object.entries(item)) {
      if (!isOperationMethod(method)) continue;
      const operation = value as Operation;
      const names = SCHEMA_NAMES[operation.operationId ?? ''] ?? {};
      for (const media of Object.values(operation.requestBody?.content ?? {})) {
        media.schema = named(
          schemas,
          media.schema && inputSchema(media.schema),
          names.request ?? `${pascal(operation.operationId)}Request`,
        );
      }
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        for (const media of Object.values(response.content ?? {})) {
          if (/^2/.test(status))
            media.schema = named(
              schemas,
              media.schema,
              names.response ?? `${pascal(operation.operationId)}Response`,
            );
        }
      }
      declareErrors(operation, path);
    }
  }
  for (const [name, schema] of Object.entries(schemas)) {
    schemas[name] = referNested(schema, schemas, name) as Json;
  }
  const tagNames = new Set(TAGS.map((tag) => tag.name));
  const tags = [...TAGS, ...(document.tags ?? []).filter((tag) => !tagNames.has(tag.name))];
  return {
    ...document,
    tags,
    paths: Object.fromEntries(paths),
    components: {
      ...document.components,
      schemas: { ...document.components?.schemas, ...schemas },
    },
  };
}

function isOperationMethod(method: string): boolean {
  return ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method);
}

function pathRank(path: string): number {
  const index = PATH_ORDER.findIndex((pattern) => pattern.test(path));
  return index === -1 ? PATH_ORDER.length : index;
}

function pascal(value = 'anonymous'): string {
  return `${value.charAt(0).toUpperCase()}${value.slice(1)}`;
}

/** An inline object schema becomes a named component (the same shape shares one name). */
function named(
  schemas: Record<string, Json>,
  schema: Json | undefined,
  name: string,
): Json | undefined {
  if (!schema || '$ref' in schema || (schema.type !== 'object' && !schema.anyOf && !schema.oneOf))
    return schema;
  const existing = Object.entries(schemas).find(([, known]) => isDeepStrictEqual(known, schema));
  if (existing) return { $ref: `#/components/schemas/${existing[0]}` };
  let unique = name;
  for (let suffix = 2; schemas[unique]; suffix++) unique = `${name}${suffix}`;
  schemas[unique] = schema;
  return { $ref: `#/components/schemas/${unique}` };
}

/** Nested shapes equal to another component (a list's items, say) become references to it. */
function referNested(
  value: unknown,
  schemas: Record<string, Json>,
  self: string,
  depth = 0,
): unknown {
  if (Array.isArray(value)) return value.map((item) => referNested(item, schemas, self, depth + 1));
  if (!value || typeof value !== 'object') return value;
  if (depth > 0) {
    const match = Object.entries(schemas).find(
      ([name, known]) => name !== self && isDeepStrictEqual(known, value),
    );
    if (match) return { $ref: `#/components/schemas/${match[0]}` };
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, referNested(item, schemas, self, depth + 1)]),
  );
}

/**
 * A request body's schema with each `default` moved into its description: a default is what
 * the server fills in, so the field is optional to send, and generated clients (the
 * dashboard's types among them) would otherwise make it required.
 */
function inputSchema(schema: Json): Json {
  const { default: fallback, ...rest } = schema;
  const copy: Json = {};
  for (const [key, value] of Object.entries(rest)) {
    if (SCHEMA_MAPS.has(key) && isObject(value))
      copy[key] = Object.fromEntries(
        Object.entries(value).map(([name, item]) => [
          name,
          isObject(item) ? inputSchema(item) : item,
        ]),
      );
    else if (SCHEMA_LISTS.has(key) && Array.isArray(value))
      copy[key] = value.map((item: unknown) => (isObject(item) ? inputSchema(item) : item));
    else if (SCHEMA_KEYS.has(key) && isObject(value)) copy[key] = inputSchema(value);
    else copy[key] = value;
  }
  if (fallback === undefined) return copy;
  const note = `Default: ${JSON.stringify(fallback)}.`;
  const description = typeof copy.description === 'string' ? `${copy.description} ${note}` : note;
  return { ...copy, description };
}

const SCHEMA_MAPS = new Set(['properties', 'patternProperties']);
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const SCHEMA_KEYS = new Set(['items', 'additionalProperties', 'not']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every operation declares the error shape: its likely statuses, and `default` for the rest. */
function declareErrors(operation: Operation, path: string): void {
  const responses = (operation.responses ??= {});
  const statuses = new Set(Object.keys(responses).filter((status) => !/^[23]/.test(status)));
  if (operation.requestBody || operation.parameters?.some((parameter) => parameter.in === 'query'))
    statuses.add('400');
  if (operation.security?.length) statuses.add('401');
  if (path.includes('{')) statuses.add('404');
  if (!/^\/(health\/live|metrics)/.test(path)) statuses.add('503');
  statuses.add('default');
  for (const status of statuses) {
    const response = (responses[status] ??= {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
    });
    // A route with its own failure body (/health's report when down) keeps it.
    response.content ??= { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
  }
}
