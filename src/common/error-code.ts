/** Every error code of `API.md`; values are the wire values. */
export enum ErrorCode {
  InvalidJson = 'invalid_json',
  MissingRequiredField = 'missing_required_field',
  InvalidValue = 'invalid_value',
  MissingApiKey = 'missing_api_key',
  InvalidApiKey = 'invalid_api_key',
  Unauthorized = 'unauthorized',
  TenantSuspended = 'tenant_suspended',
  CsrfTokenInvalid = 'csrf_token_invalid',
  JobNotFound = 'job_not_found',
  FileNotFound = 'file_not_found',
  BatchNotFound = 'batch_not_found',
  ModelNotFound = 'model_not_found',
  RouteNotFound = 'route_not_found',
  NotFound = 'not_found',
  JobNotCancellable = 'job_not_cancellable',
  JobCancelled = 'job_cancelled',
  Conflict = 'conflict',
  RequestTooLarge = 'request_too_large',
  HeadersTooLarge = 'headers_too_large',
  RequestTimeout = 'request_timeout',
  UnsupportedMediaType = 'unsupported_media_type',
  IdempotencyKeyReused = 'idempotency_key_reused',
  RateLimitExceeded = 'rate_limit_exceeded',
  DailyTokenLimitExceeded = 'daily_token_limit_exceeded',
  ConcurrencyLimitExceeded = 'concurrency_limit_exceeded',
  QueueFull = 'queue_full',
  UpstreamError = 'upstream_error',
  NoUpstreamAvailable = 'no_upstream_available',
  UpstreamTimeout = 'upstream_timeout',
  ServiceUnavailable = 'service_unavailable',
  InternalError = 'internal_error',
}

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'service_unavailable'
  | 'server_error';

/** Default HTTP status and error type of each code; the status table of `API.md`. */
export function describeErrorCode(code: ErrorCode): { status: number; type: ErrorType } {
  switch (code) {
    case ErrorCode.InvalidJson:
    case ErrorCode.MissingRequiredField:
    case ErrorCode.InvalidValue:
      return { status: 400, type: 'invalid_request_error' };
    case ErrorCode.MissingApiKey:
    case ErrorCode.InvalidApiKey:
    case ErrorCode.Unauthorized:
      return { status: 401, type: 'authentication_error' };
    case ErrorCode.TenantSuspended:
    case ErrorCode.CsrfTokenInvalid:
      return { status: 403, type: 'permission_error' };
    case ErrorCode.JobNotFound:
    case ErrorCode.FileNotFound:
    case ErrorCode.BatchNotFound:
    case ErrorCode.ModelNotFound:
    case ErrorCode.RouteNotFound:
    case ErrorCode.NotFound:
      return { status: 404, type: 'not_found_error' };
    case ErrorCode.JobNotCancellable:
    case ErrorCode.JobCancelled:
    case ErrorCode.Conflict:
      return { status: 409, type: 'conflict_error' };
    case ErrorCode.RequestTooLarge:
      return { status: 413, type: 'invalid_request_error' };
    case ErrorCode.HeadersTooLarge:
      return { status: 431, type: 'invalid_request_error' };
    case ErrorCode.RequestTimeout:
      return { status: 408, type: 'invalid_request_error' };
    case ErrorCode.UnsupportedMediaType:
      return { status: 415, type: 'invalid_request_error' };
    case ErrorCode.IdempotencyKeyReused:
      return { status: 422, type: 'invalid_request_error' };
    case ErrorCode.RateLimitExceeded:
    case ErrorCode.DailyTokenLimitExceeded:
    case ErrorCode.ConcurrencyLimitExceeded:
    case ErrorCode.QueueFull:
      return { status: 429, type: 'rate_limit_error' };
    case ErrorCode.UpstreamError:
      return { status: 502, type: 'upstream_error' };
    case ErrorCode.NoUpstreamAvailable:
      return { status: 503, type: 'upstream_error' };
    case ErrorCode.UpstreamTimeout:
      return { status: 504, type: 'upstream_error' };
    case ErrorCode.ServiceUnavailable:
      return { status: 503, type: 'service_unavailable' };
    case ErrorCode.InternalError:
      return { status: 500, type: 'server_error' };
  }
}
