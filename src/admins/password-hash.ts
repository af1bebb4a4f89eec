import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

// scrypt is memory-hard: N=2^15, r=8 needs 32 MiB per hash (OWASP's minimum is 2^17 × 8 / 4).
const DEFAULT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  const { N = DEFAULT_PARAMS.N, r = DEFAULT_PARAMS.r } = params;
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_LENGTH,
      { ...params, maxmem: 256 * N * r },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64url), parameters kept for later upgrades. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, DEFAULT_PARAMS);
  const { N, r, p } = DEFAULT_PARAMS;
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `stored`; false (never a throw) for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  if (![params.N, params.r, params.p].every((value) => Number.isInteger(value) && value > 0)) {
    return false;
  }
  const expected = Buffer.from(hash, 'base64url');
  const actual = await withHashSlot(async () => {
    const started = performance.now();
    const key = await derive(password, Buffer.from(salt, 'base64url'), params);
    // What an imitation must last: a moving average of real verifications.
    typicalVerifyMs += (performance.now() - started - typicalVerifyMs) / 8;
    return key;
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Fails like `verifyPassword` against an unknown email, as slowly, but without the work: it
 * waits a hash slot and then about as long as recent real verifications took (±10%), with no
 * CPU and no 32 MiB. A flood of unknown emails costs timers, not memory.
 */
export async function imitateVerification(): Promise<false> {
  await withHashSlot(() =>
    sleep(typicalVerifyMs * (0.9 + randomInt(0, 1_000) / 5_000), undefined, { ref: false }),
  );
  return false;
}

// Hashes (real or imitated) at once: each real one holds 32 MiB and a libuv thread, and the
// thread pool (4) also serves DNS and files. Imitations queue alike, so waiting tells nothing.
const MAX_CONCURRENT_HASHES = 2;
let typicalVerifyMs = 100;
let hashesRunning = 0;
const hashQueue: (() => void)[] = [];

async function withHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashesRunning >= MAX_CONCURRENT_HASHES) {
    await new Promise<void>((resolve) => hashQueue.push(resolve));
  } else {
    hashesRunning++;
  }
  try {
    return await work();
  } finally {
    const next = hashQueue.shift();
    if (next) next();
    else hashesRunning--;
  }
}

/** A hash no password matches, verified against for unknown emails so timing gives nothing away. */
export const UNMATCHABLE_HASH = [
  'scrypt',
  DEFAULT_PARAMS.N,
  DEFAULT_PARAMS.r,
  DEFAULT_PARAMS.p,
  randomBytes(SALT_LENGTH).toString('base64url'),
  randomBytes(KEY_LENGTH).toString('base64url'),
].join('$');
