import { describe, expect, it } from 'vitest';
import { isSessionEndedByServer } from './server-ended-sessions.js';

/** A FATAL as the pg client builds it from the server's message. */
function fatal(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'FATAL' });
}

describe('isSessionEndedByServer', () => {
  it('knows the server ending a session', () => {
    expect(
      isSessionEndedByServer(
        fatal('57P01', 'terminating connection due to unexpected postmaster exit'),
      ),
    ).toBe(true);
    expect(isSessionEndedByServer(fatal('57P02', 'terminating connection because of crash'))).toBe(
      true,
    );
    expect(isSessionEndedByServer(fatal('57P03', 'the database system is starting up'))).toBe(true);
    expect(isSessionEndedByServer(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('leaves every other error to end the process', () => {
    expect(isSessionEndedByServer(Object.assign(new Error('x'), { code: '57P01' }))).toBe(false);
    expect(isSessionEndedByServer(fatal('28P01', 'password authentication failed'))).toBe(false);
    expect(isSessionEndedByServer(new TypeError('undefined is not a function'))).toBe(false);
    expect(isSessionEndedByServer({ code: '57P01', severity: 'FATAL' })).toBe(false);
  });
});
