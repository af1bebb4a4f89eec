/** One line of a JSONL file: its 1-based number in the file and its text without the newline. */
export interface JsonlLine {
  line: number;
  text: string;
}

const NEWLINE = 0x0a;

/**
 * Splits a stream of byte chunks into lines, holding at most one line in memory. Chunks may cut
 * lines (and UTF-8 characters) anywhere. Blank lines are counted but not yielded.
 */
export async function* readJsonlLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<JsonlLine> {
  let pending: Buffer[] = [];
  let line = 0;
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) break;
      pending.push(chunk.subarray(start, end));
      line++;
      const text = decodeLine(pending);
      pending = [];
      if (text !== null) yield { line, text };
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    line++;
    const text = decodeLine(pending);
    if (text !== null) yield { line, text };
  }
}

/** Counts lines (blank ones excluded) and bytes as chunks go by, for upload limits. */
export class JsonlLineCounter {
  bytes = 0;
  lines = 0;
  private lineHasContent = false;

  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      const stop = end === -1 ? chunk.length : end;
      for (let index = start; index < stop && !this.lineHasContent; index++) {
        if (!isBlank(chunk[index])) this.lineHasContent = true;
      }
      if (end === -1) return;
      if (this.lineHasContent) this.lines++;
      this.lineHasContent = false;
      start = end + 1;
    }
  }

  /** Lines including an unterminated last one. */
  get totalLines(): number {
    return this.lines + (this.lineHasContent ? 1 : 0);
  }
}

function decodeLine(parts: Buffer[]): string | null {
  const text = (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8');
  return text.trim() === '' ? null : text.replace(/\r$/, '');
}

const isBlank = (byte: number): boolean =>
  byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0b || byte === 0x0c;
