import { Module } from '@nestjs/common';
import { UpstreamModule } from '../upstream/upstream.module.js';
import { HealthController } from './health.controller.js';
import { HealthService } from './health.service.js';
import { StatsAdminController } from './stats.admin.controller.js';
import { StatsService } from './stats.service.js';

@Module({
  imports: [UpstreamModule],
  controllers: [HealthController, StatsAdminController],
  providers: [HealthService, StatsService],
})
export class HealthModule {}
