import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';

/** The process's logger: JSON lines; Fastify's per-request child loggers add `requestId`. */
export const createLogger = (level: string): Logger =>
  pino({
    level,
    base: { service: 'infq' },
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
