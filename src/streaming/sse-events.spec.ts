import { describe, expect, it } from 'vitest';
import { eventData, SseEventTooLargeError, sseEvents, usageOf } from './sse-events.js';

async function collect(chunks: string[]): Promise<string[]> {
  const events: string[] = [];
  for await (const event of sseEvents(chunks)) events.push(event);
  return events;
}

describe('sseEvents', () => {
  it('yields whole events across arbitrary chunk boundaries', async () => {
    expect(await collect(['data: {"a"', ':1}\n', '\ndata: [DONE]\n\n'])).toEqual([
      'data: {"a":1}',
      'data: [DONE]',
    ]);
  });
  it('accepts CRLF line endings and a final event without a blank line', async () => {
    expect(await collect(['data: 1\r\n\r\ndata: 2'])).toEqual(['data: 1', 'data: 2']);
  });
  it('joins a CRLF split between chunks, and bare CRs', async () => {
    expect(await collect(['data: 1\r', '\n\r', '\ndata: 2\r\r', 'data: 3'])).toEqual([
      'data: 1',
      'data: 2',
      'data: 3',
    ]);
  });
  it('reliability 8: refuses an endless event instead of holding it', async () => {
    function* endless(): Generator<Buffer> {
      const piece = Buffer.from(`data: ${'x'.repeat(65_530)}\n`);
      for (;;) yield piece;
    }
    const events: string[] = [];
    await expect(async () => {
      for await (const event of sseEvents(endless(), 1_000_000)) events.push(event);
    }).rejects.toThrow(SseEventTooLargeError);
    expect(events).toEqual([]);
  });
  it('passes events right up to the cap', async () => {
    const event = `data: ${'y'.repeat(994)}`;
    const events: string[] = [];
    for await (const found of sseEvents([`${event}\n\n`, `${event}\n\n`], 1_000)) {
      events.push(found);
    }
    expect(events).toEqual([event, event]);
  });
});

describe('eventData', () => {
  it.each([
    ['data: {"x":1}', '{"x":1}'],
    ['data:{"x":1}', '{"x":1}'],
    [': keep-alive', undefined],
    ['event: ping\ndata: a\ndata: b', 'a\nb'],
  ])('%j → %j', (event, data) => expect(eventData(event)).toBe(data));
});

describe('usageOf', () => {
  it('finds usage-only chunks', () => {
    expect(usageOf('{"choices":[],"usage":{"total_tokens":42}}')).toEqual({
      totalTokens: 42,
      usageOnly: true,
    });
    expect(usageOf('{"choices":[{"delta":{}}],"usage":{"total_tokens":7}}')).toEqual({
      totalTokens: 7,
      usageOnly: false,
    });
    expect(usageOf('{"choices":[{"delta":{"content":"usage"}}]}')).toBeUndefined();
    expect(usageOf('[DONE]')).toBeUndefined();
  });
});
