import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AdminAccess } from '../auth/access.decorator.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { AuditService } from './audit.service.js';
import { AuditListSchema, type AuditListDto } from './dto/audit.dto.js';
import { toAuditEntryResponse } from './audit.mapper.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@ApiTags('admin: audit')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api/audit')
export class AuditAdminController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'The audit log of admin actions, newest first' })
  @ApiOkResponse({ schema: openApiSchema(AuditListSchema) })
  @ApiQuery({ name: 'actor', required: false, description: 'admin email, `token` or `cli`' })
  @ApiQuery({ name: 'action', required: false, example: 'key.revoked' })
  @ApiQuery({ name: 'tenant', required: false, description: 'tenant id' })
  @ApiQuery({ name: 'limit', required: false, example: DEFAULT_LIMIT })
  @ApiQuery({ name: 'cursor', required: false })
  async list(
    @Query('actor') actor?: string,
    @Query('action') action?: string,
    @Query('tenant') tenant?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ): Promise<AuditListDto> {
    const page = await this.audit.list({
      actor: actor || undefined,
      action: action || undefined,
      tenantId: parseTenant(tenant),
      before: parseCursor(cursor),
      limit: parseLimit(limit),
    });
    return {
      object: 'list',
      data: page.entries.map(toAuditEntryResponse),
      next_cursor: page.nextCursor,
    };
  }
}

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_LIMIT;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new AppError(ErrorCode.InvalidValue, `limit: an integer from 1 to ${MAX_LIMIT}`, {
      param: 'limit',
    });
  }
  return limit;
}

function parseCursor(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[1-9][0-9]{0,18}$/.test(value)) {
    throw new AppError(ErrorCode.InvalidValue, 'cursor: pass the next_cursor of a previous page', {
      param: 'cursor',
    });
  }
  return value;
}

function parseTenant(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!UUID_PATTERN.test(value)) {
    throw new AppError(ErrorCode.InvalidValue, 'tenant: a tenant id', { param: 'tenant' });
  }
  return value.toLowerCase();
}
