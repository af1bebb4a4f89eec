/** Why one backend attempt failed; the retry policy decides what follows. */
export type UpstreamFailure =
  /** No response at all: refused, reset, DNS. Another node may be tried inside the attempt. */
  | { kind: 'connection'; node: string; message: string }
  | { kind: 'timeout'; node: string; message: string }
  | { kind: 'http'; node: string; status: number; message: string; retryAfterMs?: number }
  | { kind: 'invalid_response'; node: string; message: string }
  | { kind: 'no_upstream'; message: string };

/** Thrown by the upstream client; carries the classified failure. */
export class UpstreamFailureError extends Error {
  override readonly name = 'UpstreamFailureError';
  constructor(readonly failure: UpstreamFailure) {
    super(describeFailure(failure));
  }
}

/** A readable one-liner naming the backend status where there is one. */
export function describeFailure(failure: UpstreamFailure): string {
  switch (failure.kind) {
    case 'http':
      return `backend returned ${failure.status}: ${failure.message}`;
    case 'connection':
      return `backend unreachable (${failure.node}): ${failure.message}`;
    case 'timeout':
      return `backend timed out (${failure.node}): ${failure.message}`;
    case 'invalid_response':
      return `backend sent an invalid response (${failure.node}): ${failure.message}`;
    case 'no_upstream':
      return `no upstream available: ${failure.message}`;
  }
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) return Math.round(Number(raw) * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A network error as `CODE message`; undici keeps the socket's code on `cause`. */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const label =
    typeof code === 'string' ? code : typeof cause?.code === 'string' ? cause.code : undefined;
  const message = error.message || (typeof cause?.message === 'string' ? cause.message : '');
  return [label, message].filter(Boolean).join(' ');
}
