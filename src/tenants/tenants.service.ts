import { Inject, Injectable } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { AuditAction, type AuditActor } from '../audit/audit-action.js';
import { AuditService } from '../audit/audit.service.js';
import type { TenantCreateDto, TenantUpdateDto } from './dto/tenant.dto.js';
import { TenantChangesClient } from './tenant-changes.client.js';
import type { Tenant } from './tenant.entity.js';
import { TenantsRepository, type TenantLimits } from './tenants.repository.js';

@Injectable()
export class TenantsService {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly changes: TenantChangesClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  async create(input: TenantCreateDto, by: AuditActor): Promise<Tenant> {
    const defaults = this.config.limits;
    const limits: TenantLimits = {
      rpm: input.limits?.rpm ?? defaults.defaultRpm,
      tokensPerDay: input.limits?.tokens_per_day ?? defaults.defaultTokensPerDay,
      maxConcurrent: input.limits?.max_concurrent ?? defaults.defaultMaxConcurrent,
      maxQueued: input.limits?.max_queued ?? defaults.defaultMaxQueued,
      weight: input.weight ?? 1,
    };
    try {
      return await this.tenants.create(input.name, limits, (manager, tenant) =>
        this.audit.record(manager, {
          by,
          action: AuditAction.TenantCreated,
          objectType: 'tenant',
          objectId: tenant.id,
          tenantId: tenant.id,
          details: { ...input },
        }),
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError(ErrorCode.Conflict, `A tenant named "${input.name}" already exists`, {
          param: 'name',
        });
      }
      throw error;
    }
  }

  list(): Promise<Tenant[]> {
    return this.tenants.findAll();
  }

  async get(id: string): Promise<Tenant> {
    const tenant = isUuid(id) ? await this.tenants.findById(id) : null;
    if (!tenant) throw new AppError(ErrorCode.NotFound, `Tenant ${id} not found`);
    return tenant;
  }

  /** Finds a tenant by id or by name (for the CLI). */
  async resolve(idOrName: string): Promise<Tenant> {
    const tenant = isUuid(idOrName)
      ? await this.tenants.findById(idOrName)
      : await this.tenants.findByName(idOrName);
    if (!tenant) throw new AppError(ErrorCode.NotFound, `Tenant ${idOrName} not found`);
    return tenant;
  }

  async update(id: string, input: TenantUpdateDto, by: AuditActor): Promise<Tenant> {
    await this.get(id);
    const updated = await this.tenants.update(
      id,
      {
        ...(input.limits?.rpm !== undefined && { rpm: input.limits.rpm }),
        ...(input.limits?.tokens_per_day !== undefined && {
          tokensPerDay: input.limits.tokens_per_day,
        }),
        ...(input.limits?.max_concurrent !== undefined && {
          maxConcurrent: input.limits.max_concurrent,
        }),
        ...(input.limits?.max_queued !== undefined && { maxQueued: input.limits.max_queued }),
        ...(input.weight !== undefined && { weight: input.weight }),
        ...(input.status !== undefined && { status: input.status }),
      },
      (manager) =>
        this.audit.record(manager, {
          by,
          action: AuditAction.TenantUpdated,
          objectType: 'tenant',
          objectId: id,
          tenantId: id,
          details: { ...input },
        }),
    );
    await this.changes.publish({ kind: 'tenant', tenantId: id });
    return updated!;
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID_PATTERN.test(value);

const isUniqueViolation = (error: unknown): boolean =>
  error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505';
