import type { LoggerService } from '@nestjs/common';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type Logger } from 'pino';
import { currentRequestId } from './request-context.js';

// Fastify's per-request loggers already carry `requestId`; every other line gets it from here.
const requestLoggers = new WeakSet<object>();

/** The process's logger: JSON lines, each tagged with the request being handled, if any. */
export const createLogger = (level: string): Logger =>
  pino({
    level,
    base: { service: 'infq' },
    mixin: (_object, _level, logger) => {
      const requestId = requestLoggers.has(logger) ? undefined : currentRequestId();
      return requestId ? { requestId } : {};
    },
    // Belt and braces: no log line carries credentials, whatever object is logged.
    redact: {
      paths: [
        'password',
        '*.password',
        'authorization',
        'headers.authorization',
        'headers.cookie',
        'headers["x-api-key"]',
        'headers["x-csrf-token"]',
        '*.headers.authorization',
        '*.headers.cookie',
        '*.headers["x-api-key"]',
        '*.headers["x-csrf-token"]',
      ],
      censor: '[redacted]',
    },
  });

/** Fastify's `childLoggerFactory`: the per-request logger, which carries its `requestId`. */
export function requestChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  const child = logger.child(bindings, options);
  requestLoggers.add(child);
  return child;
}

/** Routes Nest's own logging into pino. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest.at(-1) as string | undefined);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace',
    message: unknown,
    context?: string,
  ): void {
    if (typeof message === 'object' && message !== null) {
      this.logger[level]({ context, ...message });
    } else {
      this.logger[level]({ context }, String(message));
    }
  }
}
