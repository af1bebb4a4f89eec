import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';
// Long enough for the usual id formats (UUIDs, trace ids, ULIDs); nothing that could carry markup.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** The client's own `x-request-id` when it is sane, else a new UUID. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * Sends `x-request-id` on every answer (streams and errors included) and writes one access log
 * line per request; both that line and a failed request's error line carry the id.
 *
 * The id is not carried into every line written while a request is handled: that needs an
 * AsyncLocalStorage, whose promise hooks cost 16 % of queued-POST throughput on Node 20
 * (bench/RESULTS.md). Job, tenant and node ids, which those lines carry, lead to the request.
 */
export function registerRequestContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    // On the raw response, so answers written directly (event streams) carry it too.
    reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    // Built only when it is written (LOG_LEVEL info or finer).
    if (!(request.log as Logger).isLevelEnabled('info')) {
      done();
      return;
    }
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
