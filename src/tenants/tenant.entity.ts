import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export enum TenantStatus {
  Active = 'active',
  Suspended = 'suspended',
}

@Entity({ name: 'tenants' })
export class Tenant {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text', unique: true })
  name!: string;

  @Column({ type: 'text', default: TenantStatus.Active })
  status!: TenantStatus;

  @Column({ type: 'integer' })
  rpm!: number;

  @Column({ name: 'tokens_per_day', type: 'bigint', transformer: { to: Number, from: Number } })
  tokensPerDay!: number;

  @Column({ name: 'max_concurrent', type: 'integer' })
  maxConcurrent!: number;

  @Column({ name: 'max_queued', type: 'integer' })
  maxQueued!: number;

  /** Share of the backend pool when it is the bottleneck (weighted round-robin). */
  @Column({ type: 'integer' })
  weight!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
