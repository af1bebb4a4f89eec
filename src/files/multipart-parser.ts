import multipart from '@fastify/multipart';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config/app-config.js';

/**
 * Accepts `multipart/form-data` (file uploads) besides JSON. Parts are read as streams by the
 * handler; nothing is buffered here.
 */
export async function registerMultipartParser(
  app: NestFastifyApplication,
  config: AppConfig,
): Promise<void> {
  await app.register(multipart, {
    limits: {
      // One byte over the contract's limit, so the upload handler sees the overflow and says so.
      fileSize: config.batches.maxBytes + 1,
      files: 1,
      fields: 10,
      fieldSize: 64 * 1024,
      parts: 20,
    },
  });
}
