import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** A signed-in dashboard session, shared by every instance through PostgreSQL. */
@Entity({ name: 'admin_sessions' })
export class AdminSession {
  /** SHA-256 (hex) of the cookie's token; the token itself is never stored. */
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Index()
  @Column({ name: 'admin_id', type: 'uuid' })
  adminId!: string;

  /** Sent back by the dashboard in `X-CSRF-Token` on every state change. */
  @Column({ name: 'csrf_token', type: 'text' })
  csrfToken!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt!: Date;

  @Index()
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
