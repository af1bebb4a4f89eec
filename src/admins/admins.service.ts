import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditAction } from '../audit/audit-action.js';
import { AuditService } from '../audit/audit.service.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { z } from 'zod';
import type { AdminUser } from './admin-user.entity.js';
import { AdminSessionsRepository } from './admin-sessions.repository.js';
import { AdminUsersRepository } from './admin-users.repository.js';
import { AdminEmailSchema, AdminPasswordSchema } from './dto/admin-session.dto.js';
import { hashPassword, imitateVerification, verifyPassword } from './password-hash.js';
import { SignInThrottleRepository } from './sign-in-throttle.repository.js';

// Sign-in attempts per email from one address within the window; a success starts it again.
const SIGN_IN_ATTEMPTS = 10;
// Per address, whatever the emails: password spraying from one place.
const SIGN_IN_ATTEMPTS_PER_ADDRESS = 30;
// Per email from every address together: guessing spread over many places.
const SIGN_IN_ATTEMPTS_PER_EMAIL = 100;
const SIGN_IN_WINDOW_MS = 15 * 60_000;
const emailAtAddress = (email: string, address: string): string =>
  `email:${email}|address:${address}`;

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
    private readonly audit: AuditService,
    private readonly throttle: SignInThrottleRepository,
  ) {}

  /** Creates the admin of `ADMIN_EMAIL`/`ADMIN_PASSWORD` unless that email already exists. */
  async onApplicationBootstrap(): Promise<void> {
    const first = this.config.firstAdmin;
    if (!first) return;
    const created = await this.admins.createIfAbsent(
      first.email,
      await hashPassword(first.password),
    );
    if (created)
      this.logger.log({ msg: 'created the first admin from ADMIN_EMAIL', email: created.email });
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
    // A new password ends any block on the email, from every address.
    await this.throttle.clearPrefix(`email:${admin.email}`);
    return admin;
  }

  async delete(email: string): Promise<AdminUser> {
    const admin = await this.get(email);
    await this.admins.delete(admin.id);
    return admin;
  }

  /**
   * The admin whose email and password these are; one error for every kind of mismatch. Both
   * outcomes go to the audit log with the client's `address`.
   */
  async authenticate(email: string, password: string, address: string): Promise<AdminUser> {
    const normalized = email.trim().toLowerCase();
    const admin = await this.admins.findByEmail(normalized);
    const failed = (reason: string): Promise<void> =>
      this.audit.recordAlone({
        by: { actor: normalized, address },
        action: AuditAction.AdminSignInFailed,
        objectType: 'admin',
        objectId: admin?.id ?? normalized,
        details: { reason },
      });
    const blockedUntil = await this.takeSignInAttempt(normalized, address);
    if (blockedUntil) {
      await failed('too_many_attempts');
      throw new AppError(
        ErrorCode.RateLimitExceeded,
        'Too many sign-in attempts; try again later',
        { retryAfterS: Math.max(1, Math.ceil((blockedUntil.getTime() - Date.now()) / 1000)) },
      );
    }
    // An unknown email waits as long as a hash would take, without computing one.
    const matches = admin
      ? await verifyPassword(password, admin.passwordHash)
      : await imitateVerification();
    if (!admin || !matches) {
      await failed(admin ? 'wrong_password' : 'unknown_email');
      throw new AppError(ErrorCode.Unauthorized, 'Wrong email or password');
    }
    await this.admins.touchSignIn(admin.id, (manager) =>
      this.audit.record(manager, {
        by: { actor: admin.email, address },
        action: AuditAction.AdminSignedIn,
        objectType: 'admin',
        objectId: admin.id,
      }),
    );
    await this.throttle.clear([emailAtAddress(normalized, address)]);
    await this.throttle.refund([`address:${address}`, `email:${normalized}`]);
    return admin;
  }

  /**
   * Counts a sign-in attempt (in the database, so every instance shares the budget) by email,
   * whether or not it exists, so known and unknown emails get the same answers. An address
   * exhausted on its own (too many tries, or too many at one email) does not count towards the
   * email's own budget: one address cannot lock an admin out, who still gets in from another.
   */
  private async takeSignInAttempt(email: string, address: string): Promise<Date | null> {
    const fromAddress = await this.throttle.take(
      [
        { key: `address:${address}`, limit: SIGN_IN_ATTEMPTS_PER_ADDRESS },
        { key: emailAtAddress(email, address), limit: SIGN_IN_ATTEMPTS },
      ],
      SIGN_IN_WINDOW_MS,
    );
    if (fromAddress) return fromAddress;
    return this.throttle.take(
      [{ key: `email:${email}`, limit: SIGN_IN_ATTEMPTS_PER_EMAIL }],
      SIGN_IN_WINDOW_MS,
    );
  }

  private async get(email: string): Promise<AdminUser> {
    const address = parseEmail.transform(email);
    const admin = await this.admins.findByEmail(address);
    if (!admin) throw new AppError(ErrorCode.NotFound, `No admin with email ${address}`);
    return admin;
  }
}
