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

/**
 * The documented response type; `Pending` only while the server's OpenAPI document has no schema
 * for it. Once the server describes the response, the generated type takes over by itself.
 */
type Documented<Generated, Pending> = [Generated] extends [undefined] ? Pending : Generated;

export type SignInRequest = RequestBody<'/admin/api/session', 'post'>;
export type AdminSession = NonNullable<ResponseBody<'/admin/api/session', 'get', 200>>;
export type TenantCreateRequest = RequestBody<'/admin/api/tenants', 'post'>;
export type TenantUpdateRequest = RequestBody<'/admin/api/tenants/{id}', 'patch'>;
export type ApiKeyCreateRequest = RequestBody<'/admin/api/tenants/{id}/keys', 'post'>;
export type Stats = NonNullable<ResponseBody<'/admin/api/stats', 'get', 200>>;
export type NodeStats = Stats['nodes'][number];

// Pending server schemas: the shapes API.md states for responses whose controllers do not yet
// declare an @ApiOkResponse. Each disappears once the server documents it.
interface PendingTenant {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  limits: { rpm: number; tokens_per_day: number; max_concurrent: number };
  created_at: number;
  usage?: { requests_this_minute?: number; tokens_today?: number; open_jobs?: number };
}
interface PendingApiKey {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}
interface PendingJob {
  id: string;
  status: 'queued' | 'processing' | 'complete' | 'dead' | 'cancelled';
  model: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  retries: number;
  next_retry_at: number | null;
  error: string | null;
}
interface PendingDeadLetter extends PendingJob {
  tenant_id: string;
  request: unknown;
}
interface PendingList<T> {
  object: 'list';
  data: T[];
}
interface PendingHealth {
  status: 'ok' | 'degraded' | 'down';
  version?: string;
  uptime_s?: number;
  queue?: Partial<Record<'queued' | 'processing' | 'retrying' | 'complete' | 'dead', number>> & {
    backend?: string;
  };
  upstreams?: {
    bus?: { nodes: number; healthy: number };
    pistachio?: { configured: boolean; healthy: boolean };
  };
}

export type Tenant = Documented<ResponseBody<'/admin/api/tenants/{id}', 'get', 200>, PendingTenant>;
export type TenantList = Documented<
  ResponseBody<'/admin/api/tenants', 'get', 200>,
  PendingList<PendingTenant>
>;
export type ApiKey = Documented<ResponseBody<'/admin/api/keys/{id}', 'delete', 200>, PendingApiKey>;
export type ApiKeyList = Documented<
  ResponseBody<'/admin/api/tenants/{id}/keys', 'get', 200>,
  PendingList<PendingApiKey>
>;
export type ApiKeyCreated = Documented<
  ResponseBody<'/admin/api/tenants/{id}/keys', 'post', 201>,
  PendingApiKey & { key: string }
>;
export type DeadLetterPage = Documented<
  ResponseBody<'/admin/api/dead-letters', 'get', 200>,
  PendingList<PendingDeadLetter> & { next_cursor: string | null }
>;
export type DeadLetter = DeadLetterPage['data'][number];
export type Job = Documented<ResponseBody<'/admin/api/jobs/{id}/retry', 'post', 200>, PendingJob>;
export type Health = Documented<ResponseBody<'/health', 'get', 200>, PendingHealth>;
