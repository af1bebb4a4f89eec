import type { FastifyInstance } from 'fastify';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
// Long enough for the usual id formats (UUIDs, trace ids, ULIDs); nothing that could carry markup.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,200}$/;

const storage = new AsyncLocalStorage<{ requestId: string }>();

/** The client's own `x-request-id` when it is sane, else a new UUID. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** The id of the request being handled in this async context, if any (for log lines). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * Sends `x-request-id` on every answer (streams and errors included), makes the id available to
 * every log line written while the request is handled, and writes one access log line per request.
 */
export function registerRequestContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    // On the raw response, so answers written directly (event streams) carry it too.
    reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
    storage.run({ requestId: request.id }, done);
  });
  // Body parsing resumes in the socket's context; enter the request's again before the handler.
  fastify.addHook('preValidation', (request, _reply, done) => {
    storage.run({ requestId: request.id }, done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        path: request.url.split('?')[0].slice(0, 500),
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        address: request.ip,
      },
      'request completed',
    );
    done();
  });
}
