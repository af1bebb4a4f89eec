import { ConfigError, parseBusNodes, type BusNodeConfig } from './bus-nodes.js';
import { envSchema } from './config.schema.js';

export type ProcessMode = 'api' | 'worker' | 'all';

/** The typed, validated configuration, read once at boot. */
export interface AppConfig {
  readonly http: { readonly port: number; readonly host: string; readonly maxBodyBytes: number };
  readonly database: { readonly url: string | undefined; readonly dataDir: string };
  readonly redis: { readonly url: string | undefined; readonly prefix: string };
  readonly upstream: {
    readonly busNodes: readonly BusNodeConfig[];
    readonly busApiKey: string | undefined;
    readonly pistachioUrl: string | undefined;
    readonly pistachioApiKey: string | undefined;
    readonly timeoutMs: number;
    readonly probeIntervalMs: number;
  };
  readonly retry: { readonly baseMs: number; readonly maxMs: number; readonly maxRetries: number };
  readonly limits: {
    readonly defaultRpm: number;
    readonly defaultTokensPerDay: number;
    readonly defaultMaxConcurrent: number;
  };
  readonly retention: { readonly resultTtlS: number; readonly deadTtlS: number };
  readonly syncWaitMaxS: number;
  readonly adminToken: string | undefined;
  /** The first dashboard admin, created at start-up when missing (`ADMIN_EMAIL`, `ADMIN_PASSWORD`). */
  readonly firstAdmin: { readonly email: string; readonly password: string } | undefined;
  readonly mode: ProcessMode;
  readonly workerConcurrency: number;
  readonly logLevel: string;
}

// Never echoed back in a start-up error.
const SECRET_VARIABLES = new Set([
  'ADMIN_TOKEN',
  'ADMIN_PASSWORD',
  'BUS_API_KEY',
  'PISTACHIO_API_KEY',
]);

/** Validates `env` and builds the configuration; throws a `ConfigError` naming each bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(env[name] ?? '');
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
    http: { port: e.PORT, host: e.HOST, maxBodyBytes: e.MAX_BODY_BYTES },
    database: { url: e.DATABASE_URL, dataDir: e.DATA_DIR },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
    upstream: {
      busNodes: parseBusNodes(e.BUS_NODES),
      busApiKey: e.BUS_API_KEY,
      pistachioUrl: e.PISTACHIO_URL?.replace(/\/+$/, ''),
      pistachioApiKey: e.PISTACHIO_API_KEY,
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      probeIntervalMs: e.UPSTREAM_PROBE_INTERVAL_MS,
    },
    retry: { baseMs: e.RETRY_BASE_MS, maxMs: e.RETRY_MAX_MS, maxRetries: e.MAX_RETRIES },
    limits: {
      defaultRpm: e.DEFAULT_RPM,
      defaultTokensPerDay: e.DEFAULT_TOKENS_PER_DAY,
      defaultMaxConcurrent: e.DEFAULT_MAX_CONCURRENT,
    },
    retention: { resultTtlS: e.RESULT_TTL_S, deadTtlS: e.DEAD_TTL_S },
    syncWaitMaxS: e.SYNC_WAIT_MAX_S,
    adminToken: e.ADMIN_TOKEN,
    firstAdmin:
      e.ADMIN_EMAIL && e.ADMIN_PASSWORD
        ? { email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD }
        : undefined,
    mode: e.MODE,
    workerConcurrency: e.WORKER_CONCURRENCY,
    logLevel: e.LOG_LEVEL,
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
