import { Global, Module } from '@nestjs/common';
import { DISPATCH_STORE } from '../dispatch/dispatch.service.js';
import { TENANT_USAGE_READER } from '../tenants/tenant-usage.js';
import { LIMITS_STORE, LimitsService } from './limits.service.js';
import { RateLimitInterceptor } from './rate-limit.interceptor.js';

@Global()
@Module({
  providers: [
    // Admission reads the dispatcher's queued jobs and slots, so both share one store.
    { provide: LIMITS_STORE, useExisting: DISPATCH_STORE },
    LimitsService,
    RateLimitInterceptor,
    { provide: TENANT_USAGE_READER, useExisting: LimitsService },
  ],
  exports: [LimitsService, RateLimitInterceptor, TENANT_USAGE_READER],
})
export class LimitsModule {}
