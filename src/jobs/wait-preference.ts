import type { IncomingHttpHeaders } from 'node:http';

/** How a `POST /v1/chat/completions` wants its answer. */
export type WaitPreference =
  | { mode: 'queued' }
  /** `explicit`: the client sent `Prefer: wait`, so a wait that runs out answers 202, not 504. */
  | { mode: 'wait'; seconds: number; explicit: boolean };

/**
 * Reads `Prefer` (RFC 7240): `wait` or `wait=N` holds the answer up to N seconds (capped);
 * `respond-async` alone opts out. OpenAI's SDKs (`X-Stainless-Lang`) wait by default.
 */
export function readWaitPreference(
  headers: IncomingHttpHeaders,
  maxSeconds: number,
): WaitPreference {
  const prefer = [headers.prefer]
    .flat()
    .filter((value): value is string => typeof value === 'string')
    .join(',');
  const preferences = prefer
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean);
  const wait = preferences.find(
    (preference) => preference === 'wait' || preference.startsWith('wait='),
  );
  if (wait) {
    const requested =
      wait === 'wait' ? maxSeconds : Number(wait.slice('wait='.length).replace(/"/g, ''));
    const seconds =
      Number.isFinite(requested) && requested >= 0 ? Math.min(requested, maxSeconds) : maxSeconds;
    return { mode: 'wait', seconds, explicit: true };
  }
  if (preferences.includes('respond-async')) return { mode: 'queued' };
  if (headers['x-stainless-lang'] !== undefined)
    return { mode: 'wait', seconds: maxSeconds, explicit: false };
  return { mode: 'queued' };
}
