/** A backend answer was larger than infq keeps (`MAX_RESULT_BYTES`). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`answer larger than ${maxBytes} bytes`);
  }
}

/**
 * Reads a whole response body as UTF-8, holding at most `maxBytes`: past that, the stream is
 * destroyed (the connection goes, the rest is never read) and `BodyTooLargeError` is thrown.
 */
export async function readCappedText(
  body: AsyncIterable<Buffer> & { destroy(): void },
  maxBytes: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

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

// An error body is only for its message; never hold a huge one in memory.
const MAX_ERROR_BODY_BYTES = 4096;

/** Reads the start of a backend's error answer and returns its message. */
export async function readUpstreamErrorMessage(
  body: AsyncIterable<Buffer> & { destroy(): void },
  status: number,
): Promise<string> {
  const { text } = await readCapped(body, MAX_ERROR_BODY_BYTES);
  return upstreamErrorMessage(text, status);
}

/** The message of a backend's error body: OpenAI's `error.message`, or the text itself. */
function upstreamErrorMessage(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as {
      error?: { message?: unknown } | string;
      message?: unknown;
    };
    const message =
      typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof message === 'string' && message) return message.slice(0, 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, 500) || `HTTP ${status}`;
}
