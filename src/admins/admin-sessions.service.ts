import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import type { AdminUser } from './admin-user.entity.js';
import type { AdminSession } from './admin-session.entity.js';
import { AdminSessionsRepository } from './admin-sessions.repository.js';

/** A session ends after this long unused... */
export const SESSION_IDLE_MS = 12 * 60 * 60_000;
/** ...and this long after sign-in, whatever happens. */
export const SESSION_MAX_AGE_MS = 7 * 24 * 60 * 60_000;
// Sliding the expiry at most this often keeps a busy dashboard from writing on every request.
const EXTEND_EVERY_MS = 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface LiveAdminSession {
  session: AdminSession;
  admin: AdminUser;
}

/** Dashboard sessions: random tokens in an HttpOnly cookie, stored hashed in PostgreSQL. */
@Injectable()
export class AdminSessionsService {
  constructor(private readonly sessions: AdminSessionsRepository) {}

  /** Opens a session; the returned `token` goes in the cookie and is stored only as a hash. */
  async start(admin: AdminUser): Promise<{ token: string; session: AdminSession }> {
    await this.sessions.deleteExpired();
    const token = randomBytes(32).toString('base64url');
    const session = await this.sessions.create({
      id: hashToken(token),
      adminId: admin.id,
      csrfToken: randomBytes(32).toString('base64url'),
      expiresAt: new Date(Date.now() + SESSION_IDLE_MS),
    });
    return { token, session };
  }

  /** The live session of this cookie token, extended while in use; null when none. */
  async resolve(token: string): Promise<LiveAdminSession | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const found = await this.sessions.findLive(hashToken(token));
    if (!found) return null;
    const { session } = found;
    const now = Date.now();
    const hardEnd = session.createdAt.getTime() + SESSION_MAX_AGE_MS;
    if (now >= hardEnd) {
      await this.sessions.delete(session.id);
      return null;
    }
    if (now - session.lastSeenAt.getTime() >= EXTEND_EVERY_MS) {
      session.lastSeenAt = new Date(now);
      session.expiresAt = new Date(Math.min(now + SESSION_IDLE_MS, hardEnd));
      await this.sessions.extend(session.id, session.lastSeenAt, session.expiresAt);
    }
    return found;
  }

  async end(token: string): Promise<void> {
    if (TOKEN_PATTERN.test(token)) await this.sessions.delete(hashToken(token));
  }
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
