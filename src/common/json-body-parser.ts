import type { FastifyInstance } from 'fastify';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';

/**
 * JSON is the only body infq accepts (anything else is a 415). The exact bytes are kept on
 * `request.rawBody` so a request reaches the backend as the client wrote it.
 */
export function registerJsonBodyParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    /^application\/([\w.+-]+\+)?json$/,
    { parseAs: 'buffer' },
    (request, body: Buffer, done) => {
      (request as typeof request & { rawBody?: Buffer }).rawBody = body;
      // Many clients label every request as JSON, bodiless DELETEs included: no body is no body,
      // and an endpoint that needs one says so.
      if (body.length === 0) {
        done(null, undefined);
        return;
      }
      try {
        // Plain JSON.parse: a "__proto__" key becomes an ordinary own property, never a prototype.
        done(null, JSON.parse(body.toString('utf8')) as unknown);
      } catch (error) {
        done(
          new AppError(
            ErrorCode.InvalidJson,
            `Request body is not valid JSON: ${(error as Error).message}`,
          ),
          undefined,
        );
      }
    },
  );
}
