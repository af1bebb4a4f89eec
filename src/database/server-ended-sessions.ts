import type { Logger } from 'pino';

/**
 * Whether `error` is PostgreSQL ending a session on its own side: a FATAL of SQLSTATE class 57P
 * (shut down, crashed, a backend terminated, not accepting connections yet), or the pg client's
 * word for a connection closed under it.
 */
export function isSessionEndedByServer(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  if (typeof code === 'string' && code.startsWith('57P') && severity === 'FATAL') return true;
  return error.message === 'Connection terminated unexpectedly';
}

/**
 * When PostgreSQL goes away, every connected session is told so. A library's client that is
 * connected but has no error listener at that moment (between two of its queries) re-throws
 * that as an uncaught exception, which would end infq although the store comes back: seen once
 * in CI when the embedded server was killed. That client is closed anyway, and whoever holds it
 * sees the failure on its next query, so infq logs it and runs on. Anything else uncaught still
 * ends the process, as Node's default does.
 */
export function surviveSessionsEndedByServer(logger: Logger): void {
  process.on('uncaughtException', (error, origin) => {
    if (isSessionEndedByServer(error)) {
      logger.warn(
        { code: (error as { code?: string }).code, reason: error.message },
        'a PostgreSQL session ended by the server reached no handler; running on',
      );
      return;
    }
    console.error(origin === 'unhandledRejection' ? 'Unhandled rejection:' : 'Uncaught exception:');
    console.error(error);
    process.exit(1);
  });
}
