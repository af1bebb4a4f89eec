// First: V8's heap settings apply from the first allocation on.
import './heap-settings.js';
import 'reflect-metadata';
import { createApp } from './app.js';
import { createLogger } from './common/logger.js';
import { loadConfig } from './config/app-config.js';
import { ConfigError } from './config/bus-nodes.js';
import { readEnv } from './config/read-env.js';
import { EmbeddedPostgres } from './database/embedded-postgres.js';
import { surviveSessionsEndedByServer } from './database/server-ended-sessions.js';
import { refuseEvictingRedis } from './redis-policy/redis-policy.service.js';

const SHUTDOWN_GRACE_MS = 15_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(readEnv());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  surviveSessionsEndedByServer(logger);
  if (config.redis.url) await refuseEvictingRedis(config.redis.url);
  const embedded = config.database.url
    ? undefined
    : await EmbeddedPostgres.start(config.database.dataDir, logger).catch((error: unknown) => {
        // One line that says why and what to do, not a stack trace.
        if (!(error instanceof ConfigError)) throw error;
        console.error(error.message);
        process.exit(78); // EX_CONFIG
      });
  const app = await createApp(config, config.database.url ?? embedded!.url, logger).catch(
    async (error: unknown) => {
      await embedded?.stop();
      throw error;
    },
  );
  await app.listen({ port: config.http.port, host: config.http.host });
  logger.info({ url: await app.getUrl(), mode: config.mode }, 'infq listening');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Jobs are durable and running attempts are handed back, so a close that hangs (a library
    // waiting on a dead connection) must not keep the process: after the grace period, go.
    const closed = app
      .close()
      .catch((error: Error) => logger.error({ err: error }, 'shutdown error'));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    if ((await Promise.race([closed.then(() => true), grace.then(() => false)])) === false) {
      logger.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'shutdown took too long; exiting anyway');
    }
    await embedded
      ?.stop()
      .catch((error: Error) => logger.error({ err: error }, 'embedded PostgreSQL stop error'));
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}

main().catch((error: unknown) => {
  // A refusal to start (a Redis that evicts, ...) is one line saying why, not a stack trace.
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(error);
  process.exit(1);
});
