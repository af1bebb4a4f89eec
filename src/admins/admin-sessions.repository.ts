import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, type Repository } from 'typeorm';
import { AdminSession } from './admin-session.entity.js';
import { AdminUser } from './admin-user.entity.js';

export interface AdminSessionWithAdmin {
  session: AdminSession;
  admin: AdminUser;
}

@Injectable()
export class AdminSessionsRepository {
  constructor(
    @InjectRepository(AdminSession) private readonly sessions: Repository<AdminSession>,
  ) {}

  async create(fields: Pick<AdminSession, 'id' | 'adminId' | 'csrfToken' | 'expiresAt'>) {
    return this.sessions.save(this.sessions.create({ ...fields, lastSeenAt: new Date() }));
  }

  /** The unexpired session with this id and its admin, in one query. */
  async findLive(id: string): Promise<AdminSessionWithAdmin | null> {
    const row = await this.sessions
      .createQueryBuilder('session')
      .innerJoinAndMapOne('session.admin', AdminUser, 'admin', 'admin.id = session.adminId')
      .where('session.id = :id AND session.expiresAt > now()', { id })
      .getOne();
    if (!row) return null;
    const { admin } = row as AdminSession & { admin: AdminUser };
    return { session: row, admin };
  }

  async extend(id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.sessions.update({ id }, { lastSeenAt, expiresAt });
  }

  async delete(id: string): Promise<void> {
    await this.sessions.delete({ id });
  }

  async deleteByAdmin(adminId: string): Promise<void> {
    await this.sessions.delete({ adminId });
  }

  async deleteExpired(): Promise<void> {
    await this.sessions.delete({ expiresAt: LessThan(new Date()) });
  }
}
