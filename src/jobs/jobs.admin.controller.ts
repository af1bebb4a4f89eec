import { Controller, Delete, Get, Header, HttpCode, Param, Post, Query } from '@nestjs/common';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { DeadLetterListSchema, JobDeletedSchema, JobResponseSchema } from './dto/job.dto.js';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentActor } from '../audit/audit-actor.decorator.js';
import { AuditAction, type AuditActor } from '../audit/audit-action.js';
import { AuditService } from '../audit/audit.service.js';
import { AdminAccess } from '../auth/access.decorator.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { renderJobView } from './job-view.mapper.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { JobsService } from './jobs.service.js';

@ApiTags('admin: jobs')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api')
export class JobsAdminController {
  constructor(
    private readonly jobs: JobsService,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
  ) {}

  @Get('dead-letters')
  @ApiOkResponse({ schema: openApiSchema(DeadLetterListSchema) })
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({ summary: 'Dead jobs, newest first, with request, error and retries' })
  @ApiQuery({ name: 'tenant', required: false })
  @ApiQuery({ name: 'model', required: false })
  @ApiQuery({ name: 'limit', required: false, example: 50 })
  @ApiQuery({ name: 'cursor', required: false })
  async deadLetters(
    @Query('tenant') tenant?: string,
    @Query('model') model?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ): Promise<string> {
    const page = await this.jobs.listDeadLetters({
      tenantId: tenant || undefined,
      model: model || undefined,
      limit: parseBoundedInt('limit', limit, 50, 1, 500),
      cursor: parseBoundedInt('cursor', cursor, 0, 0, Number.MAX_SAFE_INTEGER),
    });
    const data = page.items.map((item) => {
      const view = renderJobView(item.snapshot);
      return `${view.slice(0, -1)},"tenant_id":${JSON.stringify(item.tenantId)},"request":${item.request}}`;
    });
    const nextCursor = page.nextCursor === null ? null : String(page.nextCursor);
    return `{"object":"list","data":[${data.join(',')}],"next_cursor":${JSON.stringify(nextCursor)}}`;
  }

  @Post('jobs/:id/retry')
  @ApiOkResponse({ schema: openApiSchema(JobResponseSchema) })
  @HttpCode(200)
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({ summary: 'Requeue a dead job; its retries start again from 0' })
  async retry(@Param('id') id: string, @CurrentActor() by: AuditActor): Promise<string> {
    const job = await this.jobs.requeueDead(id);
    this.metrics.jobRequeued();
    // The queue is not in the database transaction: recorded once the requeue has happened.
    await this.audit.recordAlone({
      by,
      action: AuditAction.DeadLetterRequeued,
      objectType: 'job',
      objectId: id,
    });
    return renderJobView(job);
  }

  @Delete('jobs/:id')
  @ApiOkResponse({ schema: openApiSchema(JobDeletedSchema) })
  @ApiOperation({ summary: 'Delete a job' })
  async delete(
    @Param('id') id: string,
    @CurrentActor() by: AuditActor,
  ): Promise<{ id: string; deleted: true }> {
    await this.jobs.delete(id);
    await this.audit.recordAlone({
      by,
      action: AuditAction.JobDeleted,
      objectType: 'job',
      objectId: id,
    });
    return { id, deleted: true };
  }
}

function parseBoundedInt(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError(ErrorCode.InvalidValue, `${name} must be an integer from ${min} to ${max}`, {
      param: name,
    });
  }
  return value;
}
