import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { AuditEntry } from './audit-entry.entity.js';
import type { AuditRecord } from './audit-action.js';

/** Filters and paging of `GET /admin/api/audit`. */
export interface AuditQuery {
  actor?: string;
  action?: string;
  tenantId?: string;
  /** Only entries older than this id (the previous page's `next_cursor`). */
  before?: string;
  limit: number;
}

@Injectable()
export class AuditRepository {
  constructor(@InjectRepository(AuditEntry) private readonly entries: Repository<AuditEntry>) {}

  /** Inserts through `manager`, so the row commits or rolls back with the caller's change. */
  async insert(manager: EntityManager, record: AuditRecord): Promise<void> {
    await manager.save(AuditEntry, {
      actor: record.by.actor,
      action: record.action,
      objectType: record.objectType,
      objectId: record.objectId,
      tenantId: record.tenantId ?? null,
      details: record.details ?? {},
      address: record.by.address,
    });
  }

  insertAlone(record: AuditRecord): Promise<void> {
    return this.insert(this.entries.manager, record);
  }

  /** Newest first; one row more than `limit`, so the caller knows whether a next page exists. */
  find(query: AuditQuery): Promise<AuditEntry[]> {
    const builder = this.entries
      .createQueryBuilder('entry')
      .orderBy('entry.id', 'DESC')
      .limit(query.limit + 1);
    if (query.actor !== undefined) builder.andWhere('entry.actor = :actor', { actor: query.actor });
    if (query.action !== undefined) {
      builder.andWhere('entry.action = :action', { action: query.action });
    }
    if (query.tenantId !== undefined) {
      builder.andWhere('entry.tenantId = :tenantId', { tenantId: query.tenantId });
    }
    if (query.before !== undefined) {
      builder.andWhere('entry.id < :before', { before: query.before });
    }
    return builder.getMany();
  }
}
