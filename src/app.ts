import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { serveAdminUi } from './admin-ui-static.js';
import { AppError } from './common/app-error.js';
import { ErrorCode } from './common/error-code.js';
import { registerJsonBodyParser } from './common/json-body-parser.js';
import { frameworkError, sendAppError } from './common/openai-error.filter.js';
import { AppModule } from './app.module.js';
import { PinoNestLogger } from './common/logger.js';
import { runsApi, type AppConfig } from './config/app-config.js';
import { VERSION } from './health/health.service.js';

const IDLE_SWEEP_MS = 50;

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
    genReqId: () => randomUUID(),
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
  dropIdleConnectionsWhileClosing(fastify);
  if (!runsApi(config)) serveHealthOnly(fastify);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('infq')
      .setDescription('An OpenAI-compatible inference queue proxy. See API.md for the contract.')
      .setVersion(VERSION)
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Tenant key: inf_…' }, 'bearer')
      .addApiKey(
        { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'Tenant key: inf_…' },
        'x-api-key',
      )
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' }, 'admin')
      .addCookieAuth('infq_admin_session', { type: 'apiKey', in: 'cookie' }, 'admin-session')
      .build(),
  );
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

/** A `MODE=worker` process answers health checks only: clients and admins use the API processes. */
function serveHealthOnly(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/health' || request.url.startsWith('/health?')) {
      done();
      return;
    }
    const path = request.url.split('?')[0];
    sendAppError(
      reply,
      new AppError(
        ErrorCode.RouteNotFound,
        `No route for ${request.method} ${path}: this is a MODE=worker process (only /health)`,
      ),
    );
  });
}
