import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { z } from 'zod';
import type { AdminUser } from './admin-user.entity.js';
import { AdminSessionsRepository } from './admin-sessions.repository.js';
import { AdminUsersRepository } from './admin-users.repository.js';
import { AdminEmailSchema, AdminPasswordSchema } from './dto/admin-session.dto.js';
import { hashPassword, UNMATCHABLE_HASH, verifyPassword } from './password-hash.js';

// Sign-in attempts per admin within the window; a successful one starts the count again.
const SIGN_IN_ATTEMPTS = 10;
const SIGN_IN_WINDOW_MS = 15 * 60_000;

/** Validates one field, naming it in the error (the CLI and the API share these messages). */
function parseField<T>(schema: z.ZodType<T>, field: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError(ErrorCode.InvalidValue, `${field}: ${parsed.error.issues[0].message}`, {
    param: field,
  });
}
const parseEmail = { transform: (value: unknown) => parseField(AdminEmailSchema, 'email', value) };
const parsePassword = {
  transform: (value: unknown) => parseField(AdminPasswordSchema, 'password', value),
};

/** Dashboard admin accounts: creation (start-up, CLI), passwords and sign-in checks. */
@Injectable()
export class AdminsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminsService.name);

  constructor(
    private readonly admins: AdminUsersRepository,
    private readonly sessions: AdminSessionsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Creates the admin of `ADMIN_EMAIL`/`ADMIN_PASSWORD` unless that email already exists. */
  async onApplicationBootstrap(): Promise<void> {
    const first = this.config.firstAdmin;
    if (!first) return;
    const created = await this.admins.createIfAbsent(
      first.email,
      await hashPassword(first.password),
    );
    if (created) this.logger.log(`created admin ${created.email} from ADMIN_EMAIL`);
  }

  async create(email: string, password: string): Promise<AdminUser> {
    const address = parseEmail.transform(email);
    const created = await this.admins.createIfAbsent(
      address,
      await hashPassword(parsePassword.transform(password)),
    );
    if (!created) {
      throw new AppError(ErrorCode.Conflict, `An admin with email ${address} already exists`, {
        param: 'email',
      });
    }
    return created;
  }

  list(): Promise<AdminUser[]> {
    return this.admins.findAll();
  }

  /** Sets a new password and signs the admin out everywhere. */
  async setPassword(email: string, password: string): Promise<AdminUser> {
    const admin = await this.get(email);
    await this.admins.setPasswordHash(
      admin.id,
      await hashPassword(parsePassword.transform(password)),
    );
    await this.sessions.deleteByAdmin(admin.id);
    return admin;
  }

  async delete(email: string): Promise<AdminUser> {
    const admin = await this.get(email);
    await this.admins.delete(admin.id);
    return admin;
  }

  /** The admin whose email and password these are; one error for every kind of mismatch. */
  async authenticate(email: string, password: string): Promise<AdminUser> {
    const admin = await this.admins.findByEmail(email.trim().toLowerCase());
    if (admin) {
      // Counted in the database, so guesses spread over every instance share one budget.
      const blockedUntil = await this.admins.takeSignInAttempt(
        admin.id,
        SIGN_IN_ATTEMPTS,
        SIGN_IN_WINDOW_MS,
      );
      if (blockedUntil) {
        throw new AppError(
          ErrorCode.RateLimitExceeded,
          'Too many sign-in attempts for this email; try again later',
          { retryAfterS: Math.max(1, Math.ceil((blockedUntil.getTime() - Date.now()) / 1000)) },
        );
      }
    }
    // An unknown email costs a full hash too, so timing does not tell which emails exist.
    const matches = await verifyPassword(password, admin?.passwordHash ?? UNMATCHABLE_HASH);
    if (!admin || !matches) throw new AppError(ErrorCode.Unauthorized, 'Wrong email or password');
    await this.admins.touchSignIn(admin.id);
    return admin;
  }

  private async get(email: string): Promise<AdminUser> {
    const address = parseEmail.transform(email);
    const admin = await this.admins.findByEmail(address);
    if (!admin) throw new AppError(ErrorCode.NotFound, `No admin with email ${address}`);
    return admin;
  }
}
