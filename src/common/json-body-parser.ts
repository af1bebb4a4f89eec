import type { FastifyInstance } from 'fastify';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';
import { scanJsonStructure } from './json-structure.js';

// Strict, and a byte order mark stays in the text (where JSON.parse refuses it, as before).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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
      let text: string;
      try {
        text = UTF8.decode(body);
      } catch {
        // Replacing bad bytes would validate one text and forward another.
        done(new AppError(ErrorCode.InvalidJson, 'Request body is not valid UTF-8'), undefined);
        return;
      }
      // Structure first: a 10,000-deep array must never reach a recursive serialiser, and a
      // repeated key would route on one value while a backend reads another.
      const problem = scanJsonStructure(text);
      if (problem?.kind === 'too_deep') {
        done(
          new AppError(
            ErrorCode.InvalidJson,
            `Request body nests arrays and objects deeper than ${problem.maxDepth} levels`,
          ),
          undefined,
        );
        return;
      }
      let parsed: unknown;
      try {
        // Plain JSON.parse: a "__proto__" key becomes an ordinary own property, never a prototype.
        parsed = JSON.parse(text) as unknown;
      } catch (error) {
        done(
          new AppError(
            ErrorCode.InvalidJson,
            `Request body is not valid JSON: ${(error as Error).message}`,
          ),
          undefined,
        );
        return;
      }
      if (problem?.kind === 'duplicate_key') {
        done(
          new AppError(
            ErrorCode.InvalidJson,
            `Request body repeats the key "${problem.path}"; each key may appear once per object`,
            { param: problem.path },
          ),
          undefined,
        );
        return;
      }
      done(null, parsed);
    },
  );
}
