/** Longest event (the text between blank lines) infq holds; a chat chunk is a few KB at most. */
export const MAX_SSE_EVENT_CHARS = 1_048_576;

/** A backend stream sent more than `MAX_SSE_EVENT_CHARS` without ending an event. */
export class SseEventTooLargeError extends Error {
  override readonly name = 'SseEventTooLargeError';
  constructor(readonly maxChars: number) {
    super(`stream event longer than ${maxChars} characters without a blank line`);
  }
}

/**
 * Splits a Server-Sent Events byte stream into whole events (the text between blank lines),
 * yielding each as soon as its last line has arrived. Holds at most `maxEventChars` of an
 * unfinished event: a stream that never ends one throws `SseEventTooLargeError`.
 */
export async function* sseEvents(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  maxEventChars = MAX_SSE_EVENT_CHARS,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  // A chunk ending in "\r" may be the first half of "\r\n": it waits for the next chunk.
  let pendingCarriageReturn = false;
  for await (const chunk of chunks) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (pendingCarriageReturn) text = `\r${text}`;
    pendingCarriageReturn = text.endsWith('\r');
    if (pendingCarriageReturn) text = text.slice(0, -1);
    // Only the new text is normalised and searched (from one character back, for a "\n" that
    // ended the previous chunk), so a long event costs linear time.
    const searchFrom = Math.max(0, buffer.length - 1);
    buffer += text.replace(/\r\n?/g, '\n');
    let start = 0;
    let end = buffer.indexOf('\n\n', searchFrom);
    while (end >= 0) {
      const event = buffer.slice(start, end);
      if (event.trim() !== '') yield event;
      start = end + 2;
      end = buffer.indexOf('\n\n', start);
    }
    buffer = buffer.slice(start);
    if (buffer.length > maxEventChars) throw new SseEventTooLargeError(maxEventChars);
  }
  buffer += (pendingCarriageReturn ? '\n' : '') + decoder.decode();
  if (buffer.trim() !== '') yield buffer;
}

/** The joined `data:` lines of an event, or undefined for comments and other fields only. */
export function eventData(event: string): string | undefined {
  const lines = event
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
  return lines.length > 0 ? lines.join('\n') : undefined;
}

/** What a chunk says about usage, and whether it is a usage-only chunk (empty `choices`). */
export function usageOf(data: string): { totalTokens: number; usageOnly: boolean } | undefined {
  if (!data.includes('"usage"')) return undefined;
  try {
    const chunk = JSON.parse(data) as {
      usage?: { total_tokens?: unknown } | null;
      choices?: unknown;
    };
    const total = chunk.usage?.total_tokens;
    if (typeof total !== 'number') return undefined;
    return {
      totalTokens: total,
      usageOnly: Array.isArray(chunk.choices) && chunk.choices.length === 0,
    };
  } catch {
    return undefined;
  }
}
