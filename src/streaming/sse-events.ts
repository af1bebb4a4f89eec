/**
 * Splits a Server-Sent Events byte stream into whole events (the text between blank lines),
 * yielding each as soon as its last line has arrived.
 */
export async function* sseEvents(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    buffer = buffer.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (event.trim() !== '') yield event;
    }
  }
  buffer += decoder.decode();
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
