import { Global, Module } from '@nestjs/common';
import { UpstreamModule } from '../upstream/upstream.module.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { StateMetricsService } from './state-metrics.service.js';

/** `GET /metrics` and the `MetricsService` every module reports to. */
@Global()
@Module({
  imports: [UpstreamModule],
  controllers: [MetricsController],
  providers: [MetricsService, StateMetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
