import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';

/** The fields infq itself reads from a chat completion request; the rest passes through. */
export interface ChatRequestSummary {
  model: string;
  stream: boolean;
  includeUsage: boolean;
}

/** Largest `n` (choices per request) accepted: each choice is a whole answer to hold and store. */
export const MAX_N = 128;
/** Largest `max_tokens` / `max_completion_tokens` accepted; far above any model's output window. */
export const MAX_TOKENS = 1_000_000;

/** Validates what `API.md` lists; every other field is left to the backend. */
export function validateChatRequest(body: unknown): ChatRequestSummary {
  if (body === undefined) {
    throw new AppError(ErrorCode.InvalidJson, 'Request body is empty; send a JSON object');
  }
  if (!isObject(body)) {
    throw new AppError(ErrorCode.InvalidJson, 'Request body must be a JSON object');
  }
  const model = own(body, 'model');
  if (model === undefined || model === null) throw missing('model');

  if (
    typeof model !== 'string' ||
    model.trim() === '' ||
    model.length > 256 ||
    hasControlCharacter(model)
  ) {
    throw invalid('model', 'must be a non-empty string of at most 256 printable characters');
  }
  const messages = own(body, 'messages');
  if (messages === undefined || messages === null) throw missing('messages');
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalid('messages', 'must be a non-empty array');
  }
  messages.forEach((message: unknown, index) => {
    if (!isObject(message)) throw invalid(`messages[${index}]`, 'must be an object');
    const role = own(message, 'role');
    if (role === undefined) throw missing(`messages[${index}].role`);
    if (typeof role !== 'string' || role === '') {
      throw invalid(`messages[${index}].role`, 'must be a non-empty string');
    }
    if (!('content' in message) && !('tool_calls' in message)) {
      throw missing(`messages[${index}].content`);
    }
  });
  const stream = own(body, 'stream');
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw invalid('stream', 'must be a boolean');
  }
  const streamOptions = own(body, 'stream_options');
  if (streamOptions !== undefined && streamOptions !== null && !isObject(streamOptions)) {
    throw invalid('stream_options', 'must be an object');
  }
  for (const field of ['max_tokens', 'max_completion_tokens']) {
    const value = own(body, field);
    if (
      value !== undefined &&
      value !== null &&
      !(Number.isSafeInteger(value) && (value as number) > 0)
    ) {
      throw invalid(field, 'must be a positive integer');
    }
    if (typeof value === 'number' && value > MAX_TOKENS) {
      throw invalid(field, `must be at most ${MAX_TOKENS}`);
    }
  }
  const choices = own(body, 'n');
  if (
    choices !== undefined &&
    choices !== null &&
    !(Number.isSafeInteger(choices) && (choices as number) >= 1 && (choices as number) <= MAX_N)
  ) {
    throw invalid('n', `must be an integer from 1 to ${MAX_N}`);
  }
  const includeUsage = isObject(streamOptions) && own(streamOptions, 'include_usage') === true;
  return { model, stream: stream === true, includeUsage };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Own properties only: a `__proto__` or `constructor` key in the JSON is just data.
const own = (object: Record<string, unknown>, key: string): unknown =>
  Object.hasOwn(object, key) ? object[key] : undefined;

const missing = (param: string) =>
  new AppError(ErrorCode.MissingRequiredField, `Missing required field: ${param}`, { param });

const invalid = (param: string, problem: string) =>
  new AppError(ErrorCode.InvalidValue, `Invalid ${param}: ${problem}`, { param });

// A model name is stored and logged as text; control characters have no place in it.
const hasControlCharacter = (value: string): boolean =>
  [...value].some(
    (character) => character.charCodeAt(0) < 0x20 || character.charCodeAt(0) === 0x7f,
  );
