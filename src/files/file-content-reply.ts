import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';

/** Streams a stored file's bytes as the response body. */
export async function sendFileContent(
  reply: FastifyReply,
  bytes: number,
  chunks: AsyncIterable<Buffer>,
): Promise<void> {
  await reply
    .header('content-type', 'application/octet-stream')
    .header('content-length', String(bytes))
    .send(Readable.from(chunks, { objectMode: false }));
}
