import { Controller, Get, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { PublicAccess } from '../auth/access.decorator.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import {
  HealthResponseSchema,
  LivenessResponseSchema,
  ReadinessResponseSchema,
} from './dto/health.dto.js';
import { HealthService, type HealthReport, type ReadinessReport } from './health.service.js';

@ApiTags('health')
@PublicAccess()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @ApiOperation({ summary: 'Liveness, queue counts and upstream state; no key needed' })
  @ApiOkResponse({ schema: openApiSchema(HealthResponseSchema) })
  @ApiServiceUnavailableResponse({
    description: 'status `down`',
    schema: openApiSchema(HealthResponseSchema),
  })
  async get(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthReport> {
    const report = await this.health.report();
    if (report.status === 'down') void reply.status(503);
    return report;
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness probe: 200 while the process runs; checks no dependency' })
  @ApiOkResponse({ schema: openApiSchema(LivenessResponseSchema) })
  live(): { status: 'live' } {
    return { status: 'live' };
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness probe: 200 when the database, the queue store and the HTTP server can serve',
  })
  @ApiOkResponse({ schema: openApiSchema(ReadinessResponseSchema) })
  @ApiServiceUnavailableResponse({ description: 'Not ready; the message names what is down' })
  ready(): Promise<ReadinessReport> {
    return this.health.ready();
  }
}
