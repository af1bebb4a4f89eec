import { Module } from '@nestjs/common';
import { UpstreamModule } from '../upstream/upstream.module.js';
import { StreamingService } from './streaming.service.js';

@Module({
  imports: [UpstreamModule],
  providers: [StreamingService],
  exports: [StreamingService],
})
export class StreamingModule {}
