import { z } from 'zod';

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const httpUrl = z
  .string()
  .trim()
  .refine((value) => /^https?:\/\/[^/\s]+/.test(value), 'must be an http(s) URL');

/**
 * Every environment variable infq reads, with its default and validation.
 * `API.md`'s configuration table mirrors this schema.
 */
export const envSchema = z.object({
  /** Listen port. */
  PORT: integer(0, 65535).default(8080),
  /** Listen address. */
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  /** PostgreSQL for tenants, keys, limits and usage; unset starts an embedded PostgreSQL. */
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// URL')
      .optional(),
  ),
  /** Where embedded data lives. */
  DATA_DIR: z.string().trim().min(1).default('./data'),
  /** Redis for the queue and the limits; unset keeps both in PostgreSQL. */
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// URL')
      .optional(),
  ),
  /** Report `degraded` in /health while Redis has no append-only file (accepted jobs could be lost). */
  REDIS_REQUIRE_AOF: z
    .enum(['true', 'false', ''])
    .default('true')
    .transform((value) => value !== 'false'),
  /** Key prefix for everything infq stores in Redis (lets several deployments share one Redis). */
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _.:- only')
    .default('infq'),
  /** Inference Bus nodes: comma-separated base URLs, each optionally `=STAKE` or `=STAKE:MAX`. */
  BUS_NODES: z.string().default(''),
  /** Bearer key sent to bus nodes. */
  BUS_API_KEY: optionalString,
  /** Pistachio's OpenAI-compatible base URL. */
  PISTACHIO_URL: optionalString.pipe(httpUrl.optional()),
  /** Bearer key sent to Pistachio. */
  PISTACHIO_API_KEY: optionalString,
  /** First retry delay; doubles for each retry. */
  RETRY_BASE_MS: integer(1).default(10_000),
  /** Longest retry delay, also the cap for a backend's Retry-After. */
  RETRY_MAX_MS: integer(1).default(300_000),
  /** Retries before a job is dead. */
  MAX_RETRIES: integer(0, 10_000).default(50),
  /** Time allowed for one backend attempt. */
  UPSTREAM_TIMEOUT_MS: integer(1).default(120_000),
  /** How often each backend node's `GET /models` is probed (health and model catalogue). */
  UPSTREAM_PROBE_INTERVAL_MS: integer(50, 3_600_000).default(5_000),
  /** Requests per minute for tenants created without their own limit. */
  DEFAULT_RPM: integer(1).default(20),
  /** Tokens per UTC day for tenants created without their own limit. */
  DEFAULT_TOKENS_PER_DAY: integer(1).default(100_000),
  /** Concurrent jobs for tenants created without their own limit. */
  DEFAULT_MAX_CONCURRENT: integer(1).default(2),
  /** How long complete and cancelled jobs stay readable. */
  RESULT_TTL_S: integer(1).default(86_400),
  /** How long dead jobs stay readable and requeueable. */
  DEAD_TTL_S: integer(1).default(604_800),
  /**
   * Most request bytes one tenant's dead, cancelled and expired jobs keep; past it the oldest
   * are removed before `DEAD_TTL_S`.
   */
  DEAD_LETTER_BYTES_PER_TENANT: integer(1_048_576).default(67_108_864),
  /** Largest accepted request body. */
  MAX_BODY_BYTES: integer(1024).default(1_048_576),
  /** Time a client has to send a request's whole header section (slow senders get a 408). */
  HTTP_HEADERS_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  /** Time a client has to send a whole request, body included (slow senders get a 408). */
  HTTP_REQUEST_TIMEOUT_MS: integer(100, 3_600_000).default(30_000),
  /** Largest backend answer kept; a bigger one fails the attempt, not retried. */
  MAX_RESULT_BYTES: integer(1024).default(8_388_608),
  /** Longest a wait-mode request is held. */
  SYNC_WAIT_MAX_S: integer(1).default(600),
  /** Bearer token for the admin API. */
  ADMIN_TOKEN: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  /** Email of the first dashboard admin, created at start-up if missing (with `ADMIN_PASSWORD`). */
  ADMIN_EMAIL: optionalString.pipe(
    z
      .string()
      .toLowerCase()
      .refine((value) => /^[^\s@]+@[^\s@]+$/.test(value), 'must be an email address')
      .optional(),
  ),
  /** Password of that first admin (12+ characters); ignored once the admin exists. */
  ADMIN_PASSWORD: z
    .string()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .pipe(z.string().min(12, 'must be at least 12 characters').max(1024).optional()),
  /** Which roles this process runs. */
  MODE: z.enum(['api', 'worker', 'all']).default('all'),
  /** Queued-jobs limit for tenants created without their own. */
  DEFAULT_MAX_QUEUED: integer(1).default(1000),
  /** Requests at once per bus node (queued attempts and streams) when its `BUS_NODES` entry names no `:MAX`. */
  NODE_MAX_INFLIGHT: integer(1, 100_000).default(64),
  /** Requests at once to Pistachio (queued attempts and streams together). */
  PISTACHIO_MAX_INFLIGHT: integer(1, 100_000).default(64),
  /** Backend calls in flight per worker process. */
  WORKER_CONCURRENCY: integer(1, 10_000).default(64),
  /**
   * On SIGTERM, how long running backend calls may still finish; those still running then are
   * stopped and handed back to the queue. Within the 15 s the process gives its whole shutdown.
   */
  SHUTDOWN_DRAIN_MS: integer(0, 10_000).default(5_000),
  /** Allow webhook URLs on loopback, private, link-local and metadata addresses. */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((value) => value === 'true'),
  /** First webhook redelivery delay; doubles for each retry, capped at 1 hour. */
  WEBHOOK_RETRY_BASE_MS: integer(1).default(5_000),
  /** How long an `Idempotency-Key` keeps naming its job. */
  IDEMPOTENCY_TTL_S: integer(1).default(86_400),
  /** Bearer token for `GET /metrics`; unset leaves `/metrics` open. */
  METRICS_TOKEN: optionalString.pipe(
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  /** Largest batch input file (`POST /v1/files`). */
  BATCH_MAX_BYTES: integer(1).default(209_715_200),
  /** Most lines in a batch input file. */
  BATCH_MAX_LINES: integer(1).default(50_000),
  /** How long files and batches are kept. */
  FILE_TTL_S: integer(1).default(2_592_000),
  /** A batch's completion window (`24h` on the wire); shorter only for tests. */
  BATCH_WINDOW_S: integer(1).default(86_400),
  /** Log level (pino); access logs are written at `info`. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof envSchema>;
