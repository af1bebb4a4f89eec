import { ConfigError, parseBusNodes, type BusNodeConfig } from './bus-nodes.js';
import { envSchema } from './config.schema.js';
import { redactCredentials } from './redact-credentials.js';

export type ProcessMode = 'api' | 'worker' | 'all';

/** The typed, validated configuration, read once at boot. */
export interface AppConfig {
  readonly http: {
    readonly port: number;
    readonly host: string;
    readonly maxBodyBytes: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
  };
  readonly database: { readonly url: string | undefined; readonly dataDir: string };
  readonly redis: {
    readonly url: string | undefined;
    readonly prefix: string;
    /** Whether missing AOF persistence makes /health `degraded` (`REDIS_REQUIRE_AOF`). */
    readonly requireAof: boolean;
  };
  readonly upstream: {
    readonly busNodes: readonly BusNodeConfig[];
    readonly busApiKey: string | undefined;
    readonly pistachioUrl: string | undefined;
    readonly pistachioApiKey: string | undefined;
    /** Requests at once to Pistachio. */
    readonly pistachioMaxInflight: number;
    readonly timeoutMs: number;
    readonly probeIntervalMs: number;
    /** Largest successful backend answer kept (`MAX_RESULT_BYTES`). */
    readonly maxResultBytes: number;
  };
  readonly retry: { readonly baseMs: number; readonly maxMs: number; readonly maxRetries: number };
  readonly limits: {
    readonly defaultRpm: number;
    readonly defaultTokensPerDay: number;
    readonly defaultMaxConcurrent: number;
    readonly defaultMaxQueued: number;
  };
  readonly retention: {
    readonly resultTtlS: number;
    readonly deadTtlS: number;
    /** Most request bytes a tenant's dead, cancelled and expired jobs keep (see src/retention). */
    readonly deadLetterBytesPerTenant: number;
  };
  readonly syncWaitMaxS: number;
  readonly adminToken: string | undefined;
  /** The first dashboard admin, created at start-up when missing (`ADMIN_EMAIL`, `ADMIN_PASSWORD`). */
  readonly firstAdmin: { readonly email: string; readonly password: string } | undefined;
  readonly mode: ProcessMode;
  readonly workerConcurrency: number;
  /** On SIGTERM, how long running backend calls may still finish before they are handed back. */
  readonly shutdownDrainMs: number;
  readonly logLevel: string;
  readonly batches: {
    readonly maxBytes: number;
    readonly maxLines: number;
    readonly fileTtlS: number;
    readonly windowS: number;
  };
  readonly webhooks: { readonly allowPrivate: boolean; readonly retryBaseMs: number };
  readonly idempotency: { readonly ttlS: number };
  /** Bearer token `GET /metrics` requires; undefined leaves it open. */
  readonly metricsToken: string | undefined;
}

// Never echoed back in a start-up error.
const SECRET_VARIABLES = new Set([
  'ADMIN_TOKEN',
  'ADMIN_PASSWORD',
  'BUS_API_KEY',
  'PISTACHIO_API_KEY',
  'METRICS_TOKEN',
]);

/** Validates `env` and builds the configuration; throws a `ConfigError` naming each bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const value = env[name] ?? '';
      const shown = SECRET_VARIABLES.has(name)
        ? '(hidden)'
        : // A URL may carry a password: DATABASE_URL, REDIS_URL, BUS_NODES entries.
          JSON.stringify(/_URL$|^BUS_NODES$/.test(name) ? redactCredentials(value) : value);
      return `${name}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  // One without the other would silently create no admin.
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    const missing = e.ADMIN_EMAIL === undefined ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD';
    throw new ConfigError(
      `Invalid configuration:\n  ${missing}="": set ADMIN_EMAIL and ADMIN_PASSWORD together`,
    );
  }
  return deepFreeze({
    http: {
      port: e.PORT,
      host: e.HOST,
      maxBodyBytes: e.MAX_BODY_BYTES,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: Math.max(e.HTTP_REQUEST_TIMEOUT_MS, e.HTTP_HEADERS_TIMEOUT_MS),
    },
    database: { url: e.DATABASE_URL, dataDir: e.DATA_DIR },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX, requireAof: e.REDIS_REQUIRE_AOF },
    upstream: {
      busNodes: parseBusNodes(e.BUS_NODES, e.NODE_MAX_INFLIGHT),
      busApiKey: e.BUS_API_KEY,
      pistachioUrl: e.PISTACHIO_URL?.replace(/\/+$/, ''),
      pistachioApiKey: e.PISTACHIO_API_KEY,
      pistachioMaxInflight: e.PISTACHIO_MAX_INFLIGHT,
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      probeIntervalMs: e.UPSTREAM_PROBE_INTERVAL_MS,
      maxResultBytes: e.MAX_RESULT_BYTES,
    },
    retry: { baseMs: e.RETRY_BASE_MS, maxMs: e.RETRY_MAX_MS, maxRetries: e.MAX_RETRIES },
    limits: {
      defaultRpm: e.DEFAULT_RPM,
      defaultTokensPerDay: e.DEFAULT_TOKENS_PER_DAY,
      defaultMaxConcurrent: e.DEFAULT_MAX_CONCURRENT,
      defaultMaxQueued: e.DEFAULT_MAX_QUEUED,
    },
    retention: {
      resultTtlS: e.RESULT_TTL_S,
      deadTtlS: e.DEAD_TTL_S,
      deadLetterBytesPerTenant: e.DEAD_LETTER_BYTES_PER_TENANT,
    },
    syncWaitMaxS: e.SYNC_WAIT_MAX_S,
    adminToken: e.ADMIN_TOKEN,
    firstAdmin:
      e.ADMIN_EMAIL && e.ADMIN_PASSWORD
        ? { email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD }
        : undefined,
    mode: e.MODE,
    workerConcurrency: e.WORKER_CONCURRENCY,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    logLevel: e.LOG_LEVEL,
    batches: {
      maxBytes: e.BATCH_MAX_BYTES,
      maxLines: e.BATCH_MAX_LINES,
      fileTtlS: e.FILE_TTL_S,
      windowS: e.BATCH_WINDOW_S,
    },
    webhooks: { allowPrivate: e.WEBHOOK_ALLOW_PRIVATE, retryBaseMs: e.WEBHOOK_RETRY_BASE_MS },
    idempotency: { ttlS: e.IDEMPOTENCY_TTL_S },
    metricsToken: e.METRICS_TOKEN,
  });
}

/** Whether this process answers HTTP API requests. */
export const runsApi = (config: AppConfig): boolean => config.mode !== 'worker';
/** Whether this process runs queue workers. */
export const runsWorker = (config: AppConfig): boolean => config.mode !== 'api';

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
