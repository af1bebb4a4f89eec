import { createHash } from 'node:crypto';

/** The one endpoint a batch line may call. */
export const BATCH_ENDPOINT = '/v1/chat/completions';

/** An entry of a batch's `errors.data`, as OpenAI defines it. */
export interface BatchLineError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export type BatchLineCheck =
  | { ok: true; customId: string; model: string; request: string }
  | { ok: false; error: BatchLineError };

/**
 * The job id of line `line` of batch `batchId`: a name-based UUID (version 5 layout, SHA-256),
 * so submitting a line again after a crash names the same job.
 */
export function batchLineJobId(batchId: string, line: number): string {
  const hash = createHash('sha256').update(`${batchId}\n${line}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Checks one input line: JSON, `custom_id`, `method`, `url`, and a body with model and messages. */
export function checkBatchLine(text: string, line: number, maxBodyBytes: number): BatchLineCheck {
  const fail = (code: string, message: string, param: string | null = null): BatchLineCheck => ({
    ok: false,
    error: { code, message: `Line ${line}: ${message}`, param, line },
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail('invalid_json_line', `not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed)) return fail('invalid_json_line', 'must be a JSON object');
  const { custom_id: customId, method, url, body } = parsed;
  if (typeof customId !== 'string' || customId === '') {
    return fail('missing_required_parameter', 'custom_id must be a non-empty string', 'custom_id');
  }
  if (customId.length > 512) {
    return fail('invalid_value', 'custom_id is longer than 512 characters', 'custom_id');
  }
  if (method !== 'POST') return fail('invalid_method', 'method must be "POST"', 'method');
  if (url !== BATCH_ENDPOINT) {
    return fail('invalid_url', `url must be "${BATCH_ENDPOINT}"`, 'url');
  }
  if (!isObject(body)) return fail('missing_required_parameter', 'body must be an object', 'body');
  if (typeof body.model !== 'string' || body.model === '') {
    return fail(
      'missing_required_parameter',
      'body.model must be a non-empty string',
      'body.model',
    );
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return fail(
      'missing_required_parameter',
      'body.messages must be a non-empty array',
      'body.messages',
    );
  }
  if (body.stream === true) {
    return fail('invalid_value', 'body.stream is not supported in a batch', 'body.stream');
  }
  const request = JSON.stringify(body);
  if (Buffer.byteLength(request) > maxBodyBytes) {
    return fail('invalid_value', `body is over MAX_BODY_BYTES (${maxBodyBytes})`, 'body');
  }
  return { ok: true, customId, model: body.model, request };
}

/** How a line's job ended, as far as the output files care. */
export interface LineResult {
  status: 'complete' | 'dead' | 'cancelled' | 'expired';
  jobId: string;
  /** The backend's completion JSON text, when complete. */
  resultBody: string | null;
  lastUpstreamStatus: number | null;
  errorMessage: string | null;
}

/** A line's outcome: its `response` and `error` as JSON text, in OpenAI's output-line format. */
export interface LineOutcome {
  outcome: 'completed' | 'failed';
  response: string | null;
  error: string | null;
}

export const BATCH_EXPIRED_ERROR = JSON.stringify({
  code: 'batch_expired',
  message: 'This request could not be executed before the completion window expired.',
});

export const BATCH_CANCELLED_ERROR = JSON.stringify({
  code: 'batch_cancelled',
  message: 'This request was not executed because the batch was cancelled.',
});

export function lineOutcome(result: LineResult): LineOutcome {
  switch (result.status) {
    case 'complete':
      return {
        outcome: 'completed',
        response: responseJson(200, result.jobId, jsonOrString(result.resultBody ?? 'null')),
        error: null,
      };
    case 'dead': {
      const message = result.errorMessage ?? 'The request failed';
      if (result.lastUpstreamStatus !== null) {
        const body = JSON.stringify({
          error: { message, type: 'upstream_error', param: null, code: 'upstream_error' },
        });
        return {
          outcome: 'failed',
          response: responseJson(result.lastUpstreamStatus, result.jobId, body),
          error: null,
        };
      }
      return {
        outcome: 'failed',
        response: null,
        error: JSON.stringify({ code: 'upstream_error', message }),
      };
    }
    case 'cancelled':
      return { outcome: 'failed', response: null, error: BATCH_CANCELLED_ERROR };
    case 'expired':
      return { outcome: 'failed', response: null, error: BATCH_EXPIRED_ERROR };
  }
}

function responseJson(statusCode: number, requestId: string, bodyJson: string): string {
  return `{"status_code":${statusCode},"request_id":${JSON.stringify(requestId)},"body":${bodyJson}}`;
}

/** The backend's JSON verbatim; anything that is not JSON becomes a JSON string. */
function jsonOrString(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
