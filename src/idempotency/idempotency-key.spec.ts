import { describe, expect, it } from 'vitest';
import { AppError } from '../common/app-error.js';
import { hashRequestBody, parseIdempotencyKey } from './idempotency-key.js';

describe('parseIdempotencyKey', () => {
  it.each([
    ['a', 'a'],
    ['order-2024-11-30:42', 'order-2024-11-30:42'],
    ['with spaces and ~!@#$%^&*()', 'with spaces and ~!@#$%^&*()'],
    ['x'.repeat(255), 'x'.repeat(255)],
  ])('accepts %j', (header, expected) => {
    expect(parseIdempotencyKey(header)).toBe(expected);
  });

  it('returns undefined without the header', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(256)],
    ['a tab', 'a\tb'],
    ['a newline', 'a\nb'],
    ['non-ASCII', 'clé'],
    ['DEL', 'a\x7f'],
    ['sent twice', ['a', 'b']],
  ])('refuses %s with 400 invalid_value naming the header', (_name, header) => {
    let thrown: unknown;
    try {
      parseIdempotencyKey(header);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({
      status: 400,
      code: 'invalid_value',
      param: 'Idempotency-Key',
    });
  });
});

describe('hashRequestBody', () => {
  it('is stable and tells bodies apart', () => {
    expect(hashRequestBody('{"a":1}')).toBe(hashRequestBody(Buffer.from('{"a":1}')));
    expect(hashRequestBody('{"a":1}')).not.toBe(hashRequestBody('{"a":2}'));
  });
});
