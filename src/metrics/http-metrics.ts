import type { FastifyInstance } from 'fastify';
import type { MetricsService } from './metrics.service.js';

/** The `route` label of a request no route matched (404s, bad URLs). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Counts every HTTP answer by route pattern and status, with its latency; register once. */
export function registerHttpMetrics(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.httpRequestObserved(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
