import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppError } from './common/app-error.js';
import { ErrorCode } from './common/error-code.js';
import { sendAppError } from './common/openai-error.filter.js';

const PAGE_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; " +
    "form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

const ASSET_PATTERN = /^assets\/[\w-][\w.-]*$/;

/**
 * Serves the dashboard built from `admin-ui/` at `/admin/`: hashed assets cached for good, any
 * other path the single-page app's `index.html`. `/admin/api` stays the API's own.
 */
export async function serveAdminUi(app: NestFastifyApplication): Promise<void> {
  const root = findAdminUiBuild();
  if (root) await app.register(fastifyStatic, { root, serve: false });
  const handler = async (
    request: FastifyRequest<{ Params: { '*'?: string } }>,
    reply: FastifyReply,
  ): Promise<void> => {
    const path = request.params['*'] ?? '';
    if (path === 'api' || path.startsWith('api/')) return reply.callNotFound();
    if (!root) {
      return sendAppError(
        reply,
        new AppError(
          ErrorCode.ServiceUnavailable,
          'The dashboard is not built: run "npm run build" (it builds admin-ui/ too)',
        ),
      );
    }
    if (path.startsWith('assets/')) {
      // Only the flat, hashed names Vite writes: nothing that could climb out of the folder.
      if (!ASSET_PATTERN.test(path)) return reply.callNotFound();
      return reply.sendFile(path, root, { immutable: true, maxAge: '365d' });
    }
    if (path === 'favicon.svg') return reply.sendFile(path, root, { maxAge: '1d' });
    return reply.headers(PAGE_HEADERS).sendFile('index.html', root, { cacheControl: false });
  };
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/admin', handler);
  fastify.get('/admin/*', handler);
}

/** `admin-ui/dist` beside the project's package.json, from `src/` (tests) or `dist/src/`. */
function findAdminUiBuild(): string | undefined {
  let folder = import.meta.dirname;
  for (let depth = 0; depth < 4; depth++) {
    const candidate = resolve(folder, 'admin-ui', 'dist');
    if (existsSync(resolve(candidate, 'index.html'))) return candidate;
    folder = dirname(folder);
  }
  return undefined;
}
