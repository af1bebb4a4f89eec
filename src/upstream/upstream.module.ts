import { Module } from '@nestjs/common';
import { ChatCompletionsClient } from './chat-completions.client.js';
import { UpstreamRegistry } from './upstream-registry.service.js';

@Module({
  providers: [UpstreamRegistry, ChatCompletionsClient],
  exports: [UpstreamRegistry, ChatCompletionsClient],
})
export class UpstreamModule {}
