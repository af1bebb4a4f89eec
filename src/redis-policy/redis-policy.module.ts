import { Module } from '@nestjs/common';
import { RedisPolicyCheck } from './redis-policy.service.js';

/** Start-up checks of Redis's eviction policy and persistence. */
@Module({
  providers: [RedisPolicyCheck],
  exports: [RedisPolicyCheck],
})
export class RedisPolicyModule {}
