import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { TransactionHook } from '../database/transaction-hook.js';
import { AdminUser } from './admin-user.entity.js';

// Whether the current attempt window (length $3 in ms) is still open.
const IN_WINDOW = `COALESCE(sign_in_window_start > now() - $3 * interval '1 millisecond', false)`;
const NO_SIGN_IN_ATTEMPTS = { signInAttempts: 0, signInWindowStart: null };

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

  /** A new password also lifts a sign-in block: that is how an operator unlocks an admin. */
  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.admins.update({ id }, { passwordHash, ...NO_SIGN_IN_ATTEMPTS });
  }

  /** Records a successful sign-in; `within` runs in the same transaction (the audit record). */
  touchSignIn(id: string, within?: TransactionHook<AdminUser>): Promise<void> {
    return this.admins.manager.transaction(async (manager) => {
      await manager.update(
        AdminUser,
        { id },
        { lastSignInAt: () => 'now()', ...NO_SIGN_IN_ATTEMPTS },
      );
      const admin = await manager.findOneBy(AdminUser, { id });
      if (admin) await within?.(manager, admin);
    });
  }

  /**
   * Counts one sign-in attempt unless `limit` attempts already fell in the current window of
   * `windowMs`. Returns null when the attempt may go ahead, else when the window ends. One
   * conditional UPDATE, so instances racing on the same admin never let more than `limit` by.
   */
  async takeSignInAttempt(id: string, limit: number, windowMs: number): Promise<Date | null> {
    const [updated] = await this.admins.query<[unknown[], number]>(
      `UPDATE admin_users SET
         sign_in_attempts = CASE WHEN ${IN_WINDOW} THEN sign_in_attempts + 1 ELSE 1 END,
         sign_in_window_start = CASE WHEN ${IN_WINDOW} THEN sign_in_window_start ELSE now() END
       WHERE id = $1 AND NOT (${IN_WINDOW} AND sign_in_attempts >= $2)
       RETURNING id`,
      [id, limit, windowMs],
    );
    if (updated.length > 0) return null;
    const admin = await this.admins.findOneBy({ id });
    const start = admin?.signInWindowStart?.getTime() ?? Date.now();
    return new Date(start + windowMs);
  }

  /** True when a row was deleted; its sessions go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<boolean> {
    const result = await this.admins.delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
