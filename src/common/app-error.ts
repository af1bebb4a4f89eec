import { describeErrorCode, ErrorCode, type ErrorType } from './error-code.js';

export interface AppErrorOptions {
  /** The request field at fault, for 400s. */
  param?: string;
  /** Seconds the client should wait; sent as `Retry-After`. */
  retryAfterS?: number;
  /** Overrides the code's default status (a dead job answers with the backend's 4xx). */
  status?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** The one error class domain code throws; the global filter renders it in OpenAI's shape. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly retryAfterS: number | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    const described = describeErrorCode(code);
    this.status = options.status ?? described.status;
    this.type = described.type;
    this.param = options.param ?? null;
    this.retryAfterS = options.retryAfterS;
    this.headers = options.headers ?? {};
  }

  /** The JSON body of `API.md`'s error shape. */
  toBody(): OpenAiErrorBody {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}
