import { describe, expect, it } from 'vitest';
import { hashPassword, UNMATCHABLE_HASH, verifyPassword } from './password-hash.js';

describe('password hashing', () => {
  it('verifies the right password and refuses others', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
  });

  it('salts each hash', async () => {
    expect(await hashPassword('same password')).not.toBe(await hashPassword('same password'));
  });

  it.each([
    ['empty', ''],
    ['other scheme', 'bcrypt$2b$10$abc'],
    ['bad parameters', 'scrypt$0$8$1$c2FsdA$aGFzaA'],
    ['missing parts', 'scrypt$32768$8$1'],
  ])('treats a malformed hash (%s) as no match', async (_name, stored) => {
    expect(await verifyPassword('anything at all', stored)).toBe(false);
  });

  it('matches nothing against the decoy hash', async () => {
    expect(await verifyPassword('', UNMATCHABLE_HASH)).toBe(false);
  });
});
