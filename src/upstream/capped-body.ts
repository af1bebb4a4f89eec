/** Reads at most `limit` bytes of a response body as UTF-8, dropping the rest of the stream. */
export async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): void },
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      break;
    }
  }
  return {
    text: Buffer.concat(chunks).subarray(0, limit).toString('utf8'),
    truncated: size > limit,
  };
}
