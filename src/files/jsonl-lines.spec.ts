import { describe, expect, it } from 'vitest';
import { JsonlLineCounter, readJsonlLines } from './jsonl-lines.js';

async function* chunksOf(text: string, size: number): AsyncGenerator<Buffer> {
  await Promise.resolve();
  const bytes = Buffer.from(text, 'utf8');
  for (let start = 0; start < bytes.length; start += size) {
    yield bytes.subarray(start, start + size);
  }
}

async function collect(text: string, size: number): Promise<[number, string][]> {
  const lines: [number, string][] = [];
  for await (const { line, text: value } of readJsonlLines(chunksOf(text, size))) {
    lines.push([line, value]);
  }
  return lines;
}

describe('readJsonlLines', () => {
  const cases: { name: string; text: string; expected: [number, string][] }[] = [
    {
      name: 'terminated lines',
      text: 'a\nb\n',
      expected: [
        [1, 'a'],
        [2, 'b'],
      ],
    },
    {
      name: 'an unterminated last line',
      text: 'a\nb',
      expected: [
        [1, 'a'],
        [2, 'b'],
      ],
    },
    {
      name: 'blank lines counted, not yielded',
      text: 'a\n\n  \nb\n',
      expected: [
        [1, 'a'],
        [4, 'b'],
      ],
    },
    {
      name: 'CRLF',
      text: 'a\r\nb\r\n',
      expected: [
        [1, 'a'],
        [2, 'b'],
      ],
    },
    {
      name: 'multi-byte characters',
      text: 'é€😀\nß\n',
      expected: [
        [1, 'é€😀'],
        [2, 'ß'],
      ],
    },
    { name: 'empty input', text: '', expected: [] },
  ];
  for (const { name, text, expected } of cases) {
    for (const size of [1, 2, 3, 1024]) {
      it(`${name} in chunks of ${size}`, async () => {
        expect(await collect(text, size)).toEqual(expected);
      });
    }
  }
});

describe('JsonlLineCounter', () => {
  const cases: { text: string; lines: number }[] = [
    { text: '', lines: 0 },
    { text: 'a', lines: 1 },
    { text: 'a\n', lines: 1 },
    { text: 'a\n\n \r\nb', lines: 2 },
    { text: '\n\n', lines: 0 },
  ];
  for (const { text, lines } of cases) {
    it(`counts ${lines} line(s) in ${JSON.stringify(text)}`, () => {
      const counter = new JsonlLineCounter();
      for (const byte of Buffer.from(text)) counter.add(Buffer.from([byte]));
      expect(counter.totalLines).toBe(lines);
      expect(counter.bytes).toBe(Buffer.byteLength(text));
    });
  }
});
