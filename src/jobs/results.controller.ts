import { Controller, Delete, Get, Header, Param } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { TenantAccess } from '../auth/access.decorator.js';
import { CurrentTenant, type TenantPrincipal } from '../auth/tenant-principal.js';
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
  constructor(private readonly jobs: JobsService) {}

  @Get(':id')
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({ summary: "A job's status, retries, error and (once complete) result" })
  async get(@Param('id') id: string, @CurrentTenant() tenant: TenantPrincipal): Promise<string> {
    return renderJobView(await this.jobs.get(tenant.tenantId, id));
  }

  @Delete(':id')
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({
    summary: 'Cancel a queued or processing job',
    description: JSON.stringify(JOB_EXAMPLE),
  })
  async cancel(@Param('id') id: string, @CurrentTenant() tenant: TenantPrincipal): Promise<string> {
    return renderJobView(await this.jobs.cancel(tenant.tenantId, id));
  }
}
