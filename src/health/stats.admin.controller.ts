import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminAccess } from '../auth/access.decorator.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { StatsResponseSchema, type StatsResponseDto } from './dto/stats.dto.js';
import { StatsService } from './stats.service.js';

@ApiTags('admin: stats')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api/stats')
export class StatsAdminController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiOperation({ summary: 'Queue counts, throughput and per-node health' })
  @ApiOkResponse({ schema: openApiSchema(StatsResponseSchema) })
  async get(): Promise<StatsResponseDto> {
    return this.stats.report();
  }
}
