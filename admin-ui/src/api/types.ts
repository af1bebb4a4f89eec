import type { paths } from './schema';

type Method = 'get' | 'post' | 'patch' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The JSON request body of an operation, as the server's OpenAPI document describes it. */
export type RequestBody<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: { content: { 'application/json': infer B } } }
    ? B
    : never;

/** The JSON response of an operation, or `undefined` where the document does not describe one. */
export type ResponseBody<
  P extends keyof paths,
  M extends Method,
  S extends number,
> = S extends keyof Operation<P, M>['responses']
  ? Operation<P, M>['responses'][S] extends { content: { 'application/json': infer B } }
    ? B
    : undefined
  : undefined;

export type SignInRequest = RequestBody<'/admin/api/session', 'post'>;
export type AdminSession = NonNullable<ResponseBody<'/admin/api/session', 'get', 200>>;
export type TenantCreateRequest = RequestBody<'/admin/api/tenants', 'post'>;
export type TenantUpdateRequest = RequestBody<'/admin/api/tenants/{id}', 'patch'>;
export type ApiKeyCreateRequest = RequestBody<'/admin/api/tenants/{id}/keys', 'post'>;
export type Stats = NonNullable<ResponseBody<'/admin/api/stats', 'get', 200>>;
export type NodeStats = Stats['nodes'][number];

export type Tenant = NonNullable<ResponseBody<'/admin/api/tenants/{id}', 'get', 200>>;
export type TenantList = NonNullable<ResponseBody<'/admin/api/tenants', 'get', 200>>;
export type ApiKey = NonNullable<ResponseBody<'/admin/api/keys/{id}', 'delete', 200>>;
export type ApiKeyList = NonNullable<ResponseBody<'/admin/api/tenants/{id}/keys', 'get', 200>>;
export type ApiKeyCreated = NonNullable<ResponseBody<'/admin/api/tenants/{id}/keys', 'post', 201>>;
export type DeadLetterPage = NonNullable<ResponseBody<'/admin/api/dead-letters', 'get', 200>>;
export type DeadLetter = DeadLetterPage['data'][number];
export type Job = NonNullable<ResponseBody<'/admin/api/jobs/{id}/retry', 'post', 200>>;
export type Health = NonNullable<ResponseBody<'/health', 'get', 200>>;
export type WebhookEndpointCreateRequest = RequestBody<'/admin/api/tenants/{id}/webhooks', 'post'>;
export type WebhookEndpointUpdateRequest = RequestBody<'/admin/api/webhooks/{id}', 'patch'>;
export type WebhookEndpoint = NonNullable<
  ResponseBody<'/admin/api/tenants/{id}/webhooks', 'post', 201>
>;
export type WebhookEndpointList = NonNullable<
  ResponseBody<'/admin/api/tenants/{id}/webhooks', 'get', 200>
>;
export type WebhookDeliveryList = NonNullable<
  ResponseBody<'/admin/api/webhooks/{id}/deliveries', 'get', 200>
>;
export type WebhookDelivery = WebhookDeliveryList['data'][number];
export type AdminBatchList = NonNullable<ResponseBody<'/admin/api/batches', 'get', 200>>;
export type AdminBatch = AdminBatchList['data'][number];
export type AuditPage = NonNullable<ResponseBody<'/admin/api/audit', 'get', 200>>;
export type AuditEntry = AuditPage['data'][number];
