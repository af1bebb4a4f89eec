/** An error answered by infq, in its OpenAI-style shape, or a network failure (status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

let csrfToken: string | null = null;
const unauthorizedListeners = new Set<() => void>();

/** The session's CSRF token, sent as `X-CSRF-Token` on every state change. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called whenever the API says the session is gone (401). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Calls infq; resolves with the JSON body, or rejects with an `ApiError` as the API stated it. */
export async function apiRequest<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'network_error',
      'Cannot reach infq. Is it running?',
      null,
    );
  }
  const text = await response.text();
  const json = parseJson(text);
  if (response.ok) return json as T;
  const error = toApiError(response, json);
  if (response.status === 401 && !(method === 'POST' && path === '/admin/api/session')) {
    for (const listener of unauthorizedListeners) listener();
  }
  throw error;
}

function toApiError(response: Response, json: unknown): ApiError {
  const error = (json as { error?: Record<string, unknown> } | undefined)?.error;
  if (error && typeof error.message === 'string') {
    return new ApiError(
      response.status,
      typeof error.type === 'string' ? error.type : 'error',
      typeof error.code === 'string' ? error.code : `http_${response.status}`,
      error.message,
      typeof error.param === 'string' ? error.param : null,
    );
  }
  return new ApiError(
    response.status,
    'http_error',
    `http_${response.status}`,
    `${response.status} ${response.statusText || 'error'}`,
    null,
  );
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Paths of the admin API. */
export const adminApi = (path: string): string => `/admin/api${path}`;
