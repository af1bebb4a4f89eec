import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { AdminUser } from './admin-user.entity.js';

@Injectable()
export class AdminUsersRepository {
  constructor(@InjectRepository(AdminUser) private readonly admins: Repository<AdminUser>) {}

  /** Inserts the admin unless the email is taken; null when it was (several instances may race). */
  async createIfAbsent(email: string, passwordHash: string): Promise<AdminUser | null> {
    const result = await this.admins
      .createQueryBuilder()
      .insert()
      .values({ email, passwordHash })
      .orIgnore()
      .returning('id')
      .execute();
    const id = (result.raw as { id?: string }[])[0]?.id;
    return id ? this.admins.findOneBy({ id }) : null;
  }

  findAll(): Promise<AdminUser[]> {
    return this.admins.find({ order: { createdAt: 'ASC' } });
  }

  findById(id: string): Promise<AdminUser | null> {
    return this.admins.findOneBy({ id });
  }

  findByEmail(email: string): Promise<AdminUser | null> {
    return this.admins.findOneBy({ email });
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.admins.update({ id }, { passwordHash });
  }

  async touchSignIn(id: string): Promise<void> {
    await this.admins.update({ id }, { lastSignInAt: () => 'now()' });
  }

  /** True when a row was deleted; its sessions go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<boolean> {
    const result = await this.admins.delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
