import { Body, Controller, Inject, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TenantAccess } from '../auth/access.decorator.js';
import { CurrentTenant, type TenantPrincipal } from '../auth/tenant-principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { getAdmission, getReplayOf } from '../limits/admission.js';
import { parseCancelAfter } from './cancel-after.js';
import { RateLimitInterceptor } from '../limits/rate-limit.interceptor.js';
import { StreamingService } from '../streaming/streaming.service.js';
import { ModelCatalogService } from '../upstream/model-catalog.service.js';
import { validateChatRequest } from './chat-request.js';
import { QueuedResponseSchema } from './dto/job.dto.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { ChatCompletionsService } from './chat-completions.service.js';
import { CLIENT_GONE, type JobWatch } from './job-waiter.service.js';
import { readWaitPreference, type WaitPreference } from './wait-preference.js';

@ApiTags('chat')
@ApiSecurity('bearer')
@ApiSecurity('x-api-key')
@TenantAccess()
@Controller('v1/chat')
export class ChatCompletionsController {
  constructor(
    private readonly completions: ChatCompletionsService,
    private readonly streaming: StreamingService,
    private readonly catalog: ModelCatalogService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('completions')
  // Idempotency first: a replay is answered with its job and charged against no limit.
  @UseInterceptors(IdempotencyInterceptor, RateLimitInterceptor)
  @ApiOperation({
    summary: 'An OpenAI chat completion: queued (202), waited for (200), or streamed (SSE)',
    description:
      'Queued by default: 202 with the job id and `Location`; poll it. `Prefer: wait[=N]`, and ' +
      'requests from OpenAI SDKs, hold the answer until the job ends. `"stream": true` streams ' +
      'from one backend without queueing. Every answer carries `x-ratelimit-*` headers.',
  })
  @ApiBody({
    schema: { type: 'object', required: ['model', 'messages'], additionalProperties: true },
    examples: {
      queued: { value: { model: 'llama-3.3-70b', messages: [{ role: 'user', content: 'Hello' }] } },
      stream: {
        value: {
          model: 'llama-3.3-70b',
          stream: true,
          messages: [{ role: 'user', content: 'Hello' }],
        },
      },
    },
  })
  @ApiHeader({
    name: 'Prefer',
    required: false,
    description: '`wait`, `wait=N` (seconds) or `respond-async`',
  })
  @ApiResponse({
    status: 202,
    description: 'Queued; poll `Location`',
    schema: openApiSchema(QueuedResponseSchema),
    example: {
      id: '0b0a2f3e-8d1c-4a57-9a8e-3f3b2c1d0e9f',
      status: 'queued',
      poll: '/v1/results/0b0a2f3e-8d1c-4a57-9a8e-3f3b2c1d0e9f',
    },
  })
  @ApiResponse({
    status: 200,
    description: 'Wait mode: the backend completion, verbatim, with `X-Job-Id` and `X-Job-Retries`',
  })
  @ApiResponse({ status: 429, description: 'Over a limit; see `Retry-After`' })
  async create(
    @Body() body: unknown,
    @Req() request: FastifyRequest & { rawBody?: Buffer },
    @Res() reply: FastifyReply,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<void> {
    const summary = validateChatRequest(body);
    this.catalog.assertServed(summary.model);
    const replayOf = getReplayOf(request);
    if (summary.stream) {
      const admission = getAdmission(request);
      await this.streaming.proxy({
        reply,
        tenant,
        admission,
        body: body as Record<string, unknown>,
        model: summary.model,
        includeUsage: summary.includeUsage,
      });
      return;
    }
    const preference = readWaitPreference(request.headers, this.config.syncWaitMaxS);
    const cancelAfterMs = parseCancelAfter(request.headers['cancel-after']);
    // A replay of an `Idempotency-Key` answers with the job its first request made.
    if (replayOf !== undefined) {
      await this.answer(reply, tenant, replayOf, preference);
      return;
    }
    const admission = getAdmission(request);
    // A waiting client listens from before its job exists, so waiting starts without a read.
    const watch = preference.mode === 'wait' ? this.completions.watch(admission.id) : undefined;
    try {
      await this.completions.enqueue(
        tenant,
        admission,
        summary.model,
        request.rawBody!.toString('utf8'),
        cancelAfterMs === undefined ? undefined : Date.now() + cancelAfterMs,
      );
      await this.answer(reply, tenant, admission.id, preference, watch);
    } finally {
      watch?.close();
    }
  }

  /** The 202, or the job's ending in wait mode. */
  private async answer(
    reply: FastifyReply,
    tenant: TenantPrincipal,
    jobId: string,
    preference: WaitPreference,
    watch?: JobWatch,
  ): Promise<void> {
    if (preference.mode === 'queued') {
      this.completions.sendQueued(reply, jobId);
      return;
    }
    const clientGone = new AbortController();
    reply.raw.once('close', () => clientGone.abort(CLIENT_GONE));
    await this.completions.sendWhenFinal(
      reply,
      tenant,
      jobId,
      preference,
      clientGone.signal,
      watch,
    );
  }
}
