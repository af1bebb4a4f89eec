import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/** A dashboard admin: signs in with email and password. */
@Entity({ name: 'admin_users' })
export class AdminUser {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Lower-case; unique. */
  @Column({ type: 'text', unique: true })
  email!: string;

  /** `scrypt$N$r$p$salt$hash`, see `password-hash.ts`; the password itself is never stored. */
  @Column({ name: 'password_hash', type: 'text' })
  passwordHash!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'last_sign_in_at', type: 'timestamptz', nullable: true })
  lastSignInAt!: Date | null;

  /** Sign-in attempts since `signInWindowStart`; see `AdminUsersRepository.takeSignInAttempt`. */
  @Column({ name: 'sign_in_attempts', type: 'integer', default: 0 })
  signInAttempts!: number;

  @Column({ name: 'sign_in_window_start', type: 'timestamptz', nullable: true })
  signInWindowStart!: Date | null;
}
