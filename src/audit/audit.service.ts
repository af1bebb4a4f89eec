import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AuditRecord } from './audit-action.js';
import type { AuditEntry } from './audit-entry.entity.js';
import { AuditRepository, type AuditQuery } from './audit.repository.js';

/** The admin audit log: who changed what, when and from where. */
@Injectable()
export class AuditService {
  constructor(private readonly entries: AuditRepository) {}

  /**
   * Records `record` within the transaction of `manager`: pass the manager the change itself is
   * written with, so the change and its record commit (or roll back) together.
   */
  record(manager: EntityManager, record: AuditRecord): Promise<void> {
    return this.entries.insert(manager, record);
  }

  /** Records an event that changes nothing else (a failed sign-in), in a transaction of its own. */
  recordAlone(record: AuditRecord): Promise<void> {
    return this.entries.insertAlone(record);
  }

  /** One page, newest first, and the cursor of the next page (null on the last one). */
  async list(query: AuditQuery): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    const rows = await this.entries.find(query);
    const entries = rows.slice(0, query.limit);
    return {
      entries,
      nextCursor: rows.length > query.limit ? entries[entries.length - 1].id : null,
    };
  }
}
