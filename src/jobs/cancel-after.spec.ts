import { describe, expect, it } from 'vitest';
import { AppError } from '../common/app-error.js';
import { parseCancelAfter } from './cancel-after.js';

describe('parseCancelAfter', () => {
  it.each([
    ['30s', 30_000],
    ['1s', 1_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['24h', 86_400_000],
    ['1440m', 86_400_000],
    ['86400s', 86_400_000],
    [' 45s ', 45_000],
  ])('reads %j as %i ms', (header, ms) => {
    expect(parseCancelAfter(header)).toBe(ms);
  });

  it('returns undefined without the header', () => {
    expect(parseCancelAfter(undefined)).toBeUndefined();
  });

  it.each([
    '',
    '30',
    's',
    '0s',
    '-5s',
    '1.5h',
    '25h',
    '1441m',
    '86401s',
    '2d',
    '30S',
    '5 m',
    '1h30m',
    '999999999h',
    'PT30S',
  ])('refuses %j with 400 invalid_value naming the header', (header) => {
    expectRefused(() => parseCancelAfter(header));
  });

  it('refuses the header sent twice', () => {
    expectRefused(() => parseCancelAfter(['30s', '5m']));
  });
});

function expectRefused(parse: () => unknown): void {
  let thrown: unknown;
  try {
    parse();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AppError);
  expect(thrown).toMatchObject({ status: 400, code: 'invalid_value', param: 'Cancel-After' });
}
