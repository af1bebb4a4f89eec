import { Module } from '@nestjs/common';
import { ChatCompletionsClient } from './chat-completions.client.js';
import { ModelCatalogService } from './model-catalog.service.js';
import { ModelsClient } from './models.client.js';
import { ModelsController } from './models.controller.js';
import { UpstreamProbeService } from './upstream-probe.service.js';
import { UpstreamRegistry } from './upstream-registry.service.js';

@Module({
  controllers: [ModelsController],
  providers: [
    UpstreamRegistry,
    ChatCompletionsClient,
    ModelsClient,
    UpstreamProbeService,
    ModelCatalogService,
  ],
  exports: [UpstreamRegistry, ChatCompletionsClient, ModelCatalogService],
})
export class UpstreamModule {}
