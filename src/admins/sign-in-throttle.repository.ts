import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** One counter: a name and how many attempts it allows per window. */
export interface ThrottleBucket {
  key: string;
  limit: number;
}

/**
 * Sign-in attempt counters in PostgreSQL, so the budget holds across every instance. Each
 * bucket counts attempts within a fixed window that starts at its first attempt.
 */
@Injectable()
export class SignInThrottleRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Counts one attempt in every bucket at once and returns when the last exhausted one frees
   * up, or null when none is exhausted. Rows from past windows are cleared on the way.
   */
  async take(buckets: readonly ThrottleBucket[], windowMs: number): Promise<Date | null> {
    const rows = await this.dataSource.query<
      { bucket: string; attempts: number; window_start: Date }[]
    >(
      `INSERT INTO sign_in_throttle AS t (bucket, attempts, window_start)
         SELECT bucket, 1, now() FROM unnest($1::text[]) AS bucket
       ON CONFLICT (bucket) DO UPDATE SET
         attempts = CASE WHEN ${IN_WINDOW} THEN t.attempts + 1 ELSE 1 END,
         window_start = CASE WHEN ${IN_WINDOW} THEN t.window_start ELSE now() END
       RETURNING bucket, attempts, window_start`,
      [buckets.map((bucket) => bucket.key), windowMs],
    );
    let blockedUntil: Date | null = null;
    for (const row of rows) {
      const limit = buckets.find((bucket) => bucket.key === row.bucket)!.limit;
      if (row.attempts <= limit) continue;
      const until = new Date(new Date(row.window_start).getTime() + windowMs);
      if (!blockedUntil || until > blockedUntil) blockedUntil = until;
    }
    // Unknown emails make rows too; expired ones go, a few at a time, so the table stays small.
    await this.dataSource.query(
      `DELETE FROM sign_in_throttle WHERE bucket IN (
         SELECT bucket FROM sign_in_throttle
         WHERE window_start < now() - $1 * interval '1 millisecond' LIMIT 100)`,
      [windowMs],
    );
    return blockedUntil;
  }

  /** Gives back one attempt in each of `keys` (a sign-in that succeeded was no guess). */
  async refund(keys: readonly string[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE sign_in_throttle SET attempts = greatest(attempts - 1, 0) WHERE bucket = ANY($1::text[])`,
      [keys],
    );
  }

  /** Forgets every bucket whose key is `prefix` or starts with `prefix|`. */
  async clearPrefix(prefix: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM sign_in_throttle WHERE bucket = $1 OR starts_with(bucket, $1 || '|')`,
      [prefix],
    );
  }

  /** Forgets `keys`' attempts (after a successful sign-in). */
  async clear(keys: readonly string[]): Promise<void> {
    await this.dataSource.query(`DELETE FROM sign_in_throttle WHERE bucket = ANY($1::text[])`, [
      keys,
    ]);
  }
}

const IN_WINDOW = `t.window_start > now() - $2 * interval '1 millisecond'`;
