import { Module } from '@nestjs/common';
import { RedisPolicyModule } from '../redis-policy/redis-policy.module.js';
import { UpstreamModule } from '../upstream/upstream.module.js';
import { HealthController } from './health.controller.js';
import { HealthService } from './health.service.js';
import { StatsAdminController } from './stats.admin.controller.js';
import { StatsService } from './stats.service.js';

@Module({
  imports: [UpstreamModule, RedisPolicyModule],
  controllers: [HealthController, StatsAdminController],
  providers: [HealthService, StatsService],
})
export class HealthModule {}
