import { describe, expect, it } from 'vitest';
import { isStoreUnreachable } from './store-unreachable.js';

const withCode = (message: string, code: string): Error =>
  Object.assign(new Error(message), { code });

describe('isStoreUnreachable', () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED')],
    ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
    ['ioredis with its offline queue off', new Error("Stream isn't writeable and ...")],
    ['ioredis after a closed connection', new Error('Connection is closed.')],
    ['an ioredis command timeout', new Error('Command timed out')],
    ['pg losing its connection', new Error('Connection terminated unexpectedly')],
    ['a PostgreSQL shutting down', withCode('terminating connection', '57P01')],
    ['a PostgreSQL connection failure', withCode('connection failure', '08006')],
    ['too many clients', withCode('sorry, too many clients already', '53300')],
    ['a PostgreSQL disk full', withCode('could not extend file', '53100')],
    [
      'a Redis at maxmemory (noeviction)',
      new Error("OOM command not allowed when used memory > 'maxmemory'."),
    ],
    [
      'a Redis that cannot persist',
      new Error('MISCONF Redis is configured to save RDB snapshots, but it is currently not able'),
    ],
    [
      'a TypeORM error around a driver error',
      Object.assign(new Error('Query failed'), { driverError: withCode('x', 'ECONNREFUSED') }),
    ],
    ['a wrapped cause', new Error('outer', { cause: withCode('inner', 'ETIMEDOUT') })],
    ['every address refused', new AggregateError([withCode('a', 'ECONNREFUSED')], 'connect')],
  ])('is true for %s', (_name, error) => {
    expect(isStoreUnreachable(error)).toBe(true);
  });

  it.each([
    ['a syntax error in SQL', withCode('syntax error at or near "SELEC"', '42601')],
    ['a unique violation', withCode('duplicate key value', '23505')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['something that is not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('is false for %s', (_name, error) => {
    expect(isStoreUnreachable(error)).toBe(false);
  });
});
