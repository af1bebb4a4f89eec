import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { runsApi, runsWorker, type AppConfig } from '../config/app-config.js';
import { StreamingModule } from '../streaming/streaming.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { UpstreamModule } from '../upstream/upstream.module.js';
import { ChatCompletionsService } from './chat-completions.service.js';
import { ChatCompletionsController } from './chat-completions.controller.js';
import { INFERENCE_QUEUE } from './inference-queue.js';
import { InferenceProcessor } from './inference.processor.js';
import { InferenceProducer } from './inference.producer.js';
import { JobEventsService, QUEUE_BACKEND } from './job-events.service.js';
import { JobLifecycleService } from './job-lifecycle.service.js';
import { JobSubmissionService } from './job-submission.service.js';
import { JobsAdminController } from './jobs.admin.controller.js';
import { JobWaiter } from './job-waiter.service.js';
import { JobsService } from './jobs.service.js';
import { selectQueueBackend } from './queue-backend.js';
import { ResultsController } from './results.controller.js';

@Module({})
export class JobsModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    const backend = selectQueueBackend(config, databaseUrl);
    // @nestjs/bullmq builds queues and workers from these classes: this picks the backend.
    BullModule.queueClass = backend.classes.Queue;
    BullModule.workerClass = backend.classes.Worker;
    const providers: Provider[] = [
      { provide: QUEUE_BACKEND, useValue: backend },
      JobEventsService,
      InferenceProducer,
      JobsService,
      JobWaiter,
      ChatCompletionsService,
      JobSubmissionService,
      JobLifecycleService,
    ];
    if (runsWorker(config)) providers.push(InferenceProcessor);
    return {
      module: JobsModule,
      global: true,
      imports: [
        BullModule.forRoot(backend.options),
        BullModule.registerQueue({ name: INFERENCE_QUEUE }),
        UpstreamModule,
        StreamingModule,
        TenantsModule,
      ],
      controllers: runsApi(config)
        ? [ChatCompletionsController, ResultsController, JobsAdminController]
        : [],
      providers,
      exports: [JobsService, QUEUE_BACKEND, JobSubmissionService, JobLifecycleService],
    };
  }
}
