import { Controller, Delete, Get, Header, Param, Query, Res } from '@nestjs/common';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { JobResponseSchema } from './dto/job.dto.js';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { TenantAccess } from '../auth/access.decorator.js';
import { CurrentTenant, type TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { CLIENT_GONE, JobWaiter } from './job-waiter.service.js';
import { renderJobView } from './job-view.mapper.js';
import { JobsService } from './jobs.service.js';

const JOB_EXAMPLE = {
  id: '0b0a2f3e-8d1c-4a57-9a8e-3f3b2c1d0e9f',
  object: 'chat.completion.job',
  status: 'complete',
  model: 'llama-3.3-70b',
  created_at: 1764090000,
  started_at: 1764090001,
  completed_at: 1764090003,
  retries: 0,
  next_retry_at: null,
  error: null,
  result: { id: 'chatcmpl-1', object: 'chat.completion', choices: [] },
};

@ApiTags('results')
@ApiSecurity('bearer')
@ApiSecurity('x-api-key')
@TenantAccess()
@Controller('v1/results')
export class ResultsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly waiter: JobWaiter,
  ) {}

  @Get(':id')
  @ApiOkResponse({ schema: openApiSchema(JobResponseSchema), example: JOB_EXAMPLE })
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({
    summary: "A job's status, retries, error and (once complete) result",
  })
  @ApiQuery({
    name: 'wait',
    required: false,
    description: 'Long-poll: hold up to N ≤ 60 s for a final status',
  })
  async get(
    @Param('id') id: string,
    @Query('wait') wait: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<string> {
    const waitS = parseWait(wait);
    if (waitS === 0) return renderJobView(await this.jobs.get(tenant.tenantId, id));
    const clientGone = new AbortController();
    // The response closing before we answered means the client left.
    reply.raw.once('close', () => clientGone.abort(CLIENT_GONE));
    return renderJobView(
      await this.waiter.waitForFinal(tenant.tenantId, id, waitS * 1000, clientGone.signal),
    );
  }

  @Delete(':id')
  @ApiOkResponse({ schema: openApiSchema(JobResponseSchema) })
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({
    summary: 'Cancel a queued or processing job (idempotent); 409 once complete or dead',
  })
  async cancel(@Param('id') id: string, @CurrentTenant() tenant: TenantPrincipal): Promise<string> {
    return renderJobView(await this.jobs.cancel(tenant.tenantId, id));
  }
}

const MAX_LONG_POLL_S = 60;

function parseWait(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_LONG_POLL_S) {
    throw new AppError(
      ErrorCode.InvalidValue,
      `wait must be a number of seconds from 0 to ${MAX_LONG_POLL_S}`,
      {
        param: 'wait',
      },
    );
  }
  return seconds;
}
