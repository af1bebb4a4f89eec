import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { runsApi, runsWorker, type AppConfig } from '../config/app-config.js';
import { FilesModule } from '../files/files.module.js';
import { BatchEvents } from './batch-events.service.js';
import { BatchRunner } from './batch-runner.service.js';
import { BatchesAdminController } from './batches.admin.controller.js';
import { BatchesController } from './batches.controller.js';
import { BatchesRepository } from './batches.repository.js';
import { BatchesService } from './batches.service.js';

/** OpenAI's Batch API over the queue: each line of an uploaded file runs as a job. */
@Module({})
export class BatchesModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [BatchesRepository, BatchesService, BatchEvents];
    // Worker processes run batches; they hear the job events of the jobs they finish.
    if (runsWorker(config)) providers.push(BatchRunner);
    return {
      module: BatchesModule,
      // Global so a webhooks module can subscribe to BatchEvents without importing this one.
      global: true,
      imports: [FilesModule.forRoot(config)],
      controllers: runsApi(config) ? [BatchesController, BatchesAdminController] : [],
      providers,
      exports: [BatchesService, BatchEvents],
    };
  }
}
