import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { serveAdminUi } from './admin-ui-static.js';
import { AppError } from './common/app-error.js';
import { answerClientError, MAX_HEADER_BYTES } from './common/client-errors.js';
import { ErrorCode } from './common/error-code.js';
import { registerJsonBodyParser } from './common/json-body-parser.js';
import { registerMultipartParser } from './files/multipart-parser.js';
import { frameworkError, sendAppError } from './common/openai-error.filter.js';
import { AppModule } from './app.module.js';
import { PinoNestLogger } from './common/logger.js';
import { registerRequestContext, requestIdFor } from './common/request-context.js';
import { runsApi, type AppConfig } from './config/app-config.js';
import { VERSION } from './health/health.service.js';
import { buildOpenApiDocument } from './openapi/openapi-document.js';
import { registerHttpMetrics } from './metrics/http-metrics.js';
import { MetricsService } from './metrics/metrics.service.js';

const IDLE_SWEEP_MS = 50;
const IDLE_SOCKET_MARGIN_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Builds the whole application (not yet listening); shared by main.ts and the tests. */
export async function createApp(
  config: AppConfig,
  databaseUrl: string,
  logger: Logger,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.maxBodyBytes,
    // Keys such as "__proto__" in a request are plain data: JSON.parse never touches prototypes.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    genReqId: (request: IncomingMessage) => requestIdFor(request.headers['x-request-id']),
    // Access logs come from registerRequestContext: one line per request, without headers.
    loggerInstance: logger,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
    // Slow senders (slowloris) are cut off with a 408: the header section and the whole request
    // each have a deadline; an idle socket outlives the longest wait or backend silence.
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout:
      Math.max(config.syncWaitMaxS * 1000, config.upstream.timeoutMs) + IDLE_SOCKET_MARGIN_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: config.http.headersTimeoutMs,
      maxHeaderSize: MAX_HEADER_BYTES,
      // How often Node looks for requests past those deadlines (its default is 30 s).
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    // Oversized headers and timeouts are refused by Node's parser; answer them in the error shape.
    clientErrorHandler: answerClientError,
    routerOptions: { ignoreTrailingSlash: true },
    // Malformed or over-long URLs fail in Fastify's router, before Nest sees the request.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) =>
      sendAppError(reply, frameworkError(error, request)),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, databaseUrl),
    adapter,
    {
      bodyParser: false,
      logger: new PinoNestLogger(logger),
      abortOnError: false,
    },
  );
  const fastify = app.getHttpAdapter().getInstance();
  registerJsonBodyParser(fastify);
  await registerMultipartParser(app, config);
  registerRequestContext(fastify);
  registerHttpMetrics(fastify, app.get(MetricsService));
  dropIdleConnectionsWhileClosing(fastify);
  if (!runsApi(config)) serveHealthOnly(fastify);
  const document = buildOpenApiDocument(app, VERSION);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  if (runsApi(config)) await serveAdminUi(app);
  return app;
}

/**
 * Node drops idle keep-alive connections once, when the server starts closing. An answer that
 * goes out after that (a wait cut short by the shutdown) would leave its connection open until
 * the keep-alive timeout, holding the close; so while closing, idle connections are dropped
 * every few milliseconds.
 */
function dropIdleConnectionsWhileClosing(fastify: FastifyInstance): void {
  let sweep: NodeJS.Timeout | undefined;
  fastify.addHook('preClose', (done) => {
    sweep = setInterval(() => fastify.server.closeIdleConnections(), IDLE_SWEEP_MS);
    done();
  });
  fastify.addHook('onClose', (_instance, done) => {
    clearInterval(sweep);
    done();
  });
}

const WORKER_PATHS = new Set(['/health', '/health/live', '/health/ready', '/metrics']);

/** A `MODE=worker` process answers health checks and scrapes only: clients and admins use the API processes. */
function serveHealthOnly(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const path = request.url.split('?')[0];
    if (WORKER_PATHS.has(path)) {
      done();
      return;
    }
    sendAppError(
      reply,
      new AppError(
        ErrorCode.RouteNotFound,
        `No route for ${request.method} ${path}: this is a MODE=worker process (only /health and /metrics)`,
      ),
    );
  });
}
