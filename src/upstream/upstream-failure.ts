/** Why one backend attempt failed; the retry policy decides what follows. */
export type UpstreamFailure =
  /** No response at all: refused, reset, DNS. Another node may be tried inside the attempt. */
  | { kind: 'connection'; node: string; message: string }
  | { kind: 'timeout'; node: string; message: string }
  | { kind: 'http'; node: string; status: number; message: string; retryAfterMs?: number }
  | { kind: 'invalid_response'; node: string; message: string }
  /** An answer larger than `MAX_RESULT_BYTES`: the same request would only do it again. */
  | { kind: 'too_large'; node: string; message: string }
  | { kind: 'no_upstream'; message: string };

/** Thrown by the upstream client; carries the classified failure. */
export class UpstreamFailureError extends Error {
  override readonly name = 'UpstreamFailureError';
  /** The full text, backend URLs and addresses included: for admins and logs, never tenants. */
  readonly detail: string;
  constructor(readonly failure: UpstreamFailure) {
    super(describeFailure(failure));
    this.detail = describeFailureInDetail(failure);
  }
}

/**
 * A readable one-liner naming the backend status where there is one, safe to show a tenant:
 * nodes are named by label ("bus node 2"), never by URL, and addresses in messages are masked.
 */
export function describeFailure(failure: UpstreamFailure): string {
  const node = 'node' in failure ? nodeLabel(failure.node) : '';
  const message = maskAddresses(failure.message);
  switch (failure.kind) {
    case 'http':
      return `backend returned ${failure.status}: ${message}`;
    case 'connection':
      return `backend unreachable (${node}): ${message}`;
    case 'timeout':
      return `backend timed out (${node}): ${message}`;
    case 'invalid_response':
      return `backend sent an invalid response (${node}): ${message}`;
    case 'too_large':
      return `backend answer too large (${node}): ${message}`;
    case 'no_upstream':
      return `no upstream available: ${message}`;
  }
}

/** `describeFailure` with the node's URL (credentials masked) and the message as it came. */
export function describeFailureInDetail(failure: UpstreamFailure): string {
  const node = 'node' in failure ? maskUserInfo(failure.node) : '';
  switch (failure.kind) {
    case 'http':
      return `backend ${node} returned ${failure.status}: ${failure.message}`;
    case 'connection':
      return `backend unreachable (${node}): ${failure.message}`;
    case 'timeout':
      return `backend timed out (${node}): ${failure.message}`;
    case 'invalid_response':
      return `backend sent an invalid response (${node}): ${failure.message}`;
    case 'too_large':
      return `backend answer too large (${node}): ${failure.message}`;
    case 'no_upstream':
      return `no upstream available: ${failure.message}`;
  }
}

const nodeLabels = new Map<string, string>();

/**
 * Names each node for tenants' eyes (`bus node 1`, `pistachio`), by base URL. Called once at
 * start-up with every configured node; an unlabelled node is just "a backend node".
 */
export function labelUpstreamNodes(nodes: readonly { url: string; label: string }[]): void {
  for (const { url, label } of nodes) nodeLabels.set(url, label);
}

/** The tenant-facing name of the node at `url`. */
export function nodeLabel(url: string): string {
  return nodeLabels.get(url) ?? 'a backend node';
}

/**
 * Masks what could locate or unlock an internal service in text a backend or the network stack
 * wrote: URLs, IP addresses, `host:port` pairs and the configured nodes' host names.
 */
export function maskAddresses(text: string): string {
  let masked = text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, '[url]')
    .replace(/\[[0-9a-f:.]*:[0-9a-f:.]*\](:\d+)?/gi, '[address]')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?\b/g, '[address]')
    .replace(/\b(?:(?:[a-z0-9-]+\.)+[a-z0-9-]+|localhost):\d{1,5}\b/gi, '[address]');
  for (const [url, label] of nodeLabels) {
    const host = hostOf(url);
    if (host && host.length > 2) masked = masked.split(host).join(label);
  }
  return masked;
}

const hostOf = (url: string): string | undefined => {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
};

const maskUserInfo = (url: string): string => url.replace(/\/\/[^/@]*@/, '//***@');

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
