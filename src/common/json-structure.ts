/** Deepest nesting of arrays and objects a request body may have. */
export const MAX_JSON_DEPTH = 64;

/** What a structural scan of JSON text found wrong, if anything. */
export type JsonStructureProblem =
  { kind: 'too_deep'; maxDepth: number } | { kind: 'duplicate_key'; key: string; path: string };

interface Frame {
  isObject: boolean;
  /** The key being read or the last key read (objects), or the element index (arrays). */
  label: string;
  index: number;
  keys: Set<string> | undefined;
  expectsKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * One pass over JSON text, without building values: finds nesting deeper than `maxDepth` and
 * keys repeated within one object. Text that is not valid JSON may pass; `JSON.parse` judges that.
 */
export function scanJsonStructure(
  text: string,
  maxDepth = MAX_JSON_DEPTH,
): JsonStructureProblem | undefined {
  const stack: Frame[] = [];
  const length = text.length;
  for (let at = 0; at < length; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const end = stringEnd(text, at);
      const top = stack[stack.length - 1];
      if (top?.isObject && top.expectsKey) {
        const raw = text.slice(at + 1, end);
        const key = raw.includes('\\') ? decodeKey(text.slice(at, end + 1)) : raw;
        top.keys ??= new Set();
        if (top.keys.has(key)) return { kind: 'duplicate_key', key, path: pathOf(stack, key) };
        top.keys.add(key);
        top.label = key;
        top.expectsKey = false;
      }
      at = end;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (stack.length >= maxDepth) return { kind: 'too_deep', maxDepth };
      stack.push({
        isObject: code === OPEN_BRACE,
        label: '',
        index: 0,
        keys: undefined,
        expectsKey: code === OPEN_BRACE,
      });
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      stack.pop();
    } else if (code === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.isObject) top.expectsKey = true;
      else if (top) top.index++;
    } else if (code === COLON) {
      const top = stack[stack.length - 1];
      if (top?.isObject) top.expectsKey = false;
    }
  }
  return undefined;
}

/** Index of the quote closing the string that opens at `start` (or the text's end). */
function stringEnd(text: string, start: number): number {
  let at = start + 1;
  for (;;) {
    const quote = text.indexOf('"', at);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

function decodeKey(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted;
  }
}

/** `messages[0].content`-style path of a key, for the error message. */
function pathOf(stack: readonly Frame[], key: string): string {
  const parts = stack.slice(0, -1).map((frame) => (frame.isObject ? frame.label : frame.index));
  let path = '';
  for (const part of [...parts, key]) {
    path += typeof part === 'number' ? `[${part}]` : path === '' ? part : `.${part}`;
  }
  // A key may be as long as the body; the message names it, it does not echo it whole.
  return path.length > MAX_PATH_CHARACTERS ? `${path.slice(0, MAX_PATH_CHARACTERS)}…` : path;
}

const MAX_PATH_CHARACTERS = 200;
