import type { EntityManager } from 'typeorm';

/**
 * Work a caller adds to a repository's write, run in the same transaction with the row just
 * written (e.g. an audit record): it commits with the write or not at all.
 */
export type TransactionHook<T> = (manager: EntityManager, row: T) => Promise<void>;
