import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
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
import { validateChatRequest } from './chat-request.js';
import { InferenceProducer } from './inference.producer.js';

@ApiTags('chat')
@ApiSecurity('bearer')
@ApiSecurity('x-api-key')
@TenantAccess()
@Controller('v1/chat')
export class ChatCompletionsController {
  constructor(private readonly producer: InferenceProducer) {}

  @Post('completions')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Queue an OpenAI chat completion request',
    description: 'Answers 202 at once with the job id; poll `Location` until the job is final.',
  })
  @ApiBody({
    schema: { type: 'object', required: ['model', 'messages'], additionalProperties: true },
    examples: {
      hello: { value: { model: 'llama-3.3-70b', messages: [{ role: 'user', content: 'Hello' }] } },
    },
  })
  @ApiHeader({
    name: 'Prefer',
    required: false,
    description: '`wait`, `wait=N` or `respond-async`',
  })
  @ApiResponse({
    status: 202,
    description: 'Queued',
    schema: { example: { id: '5b6c…', status: 'queued', poll: '/v1/results/5b6c…' } },
  })
  async create(
    @Body() body: unknown,
    @Req() request: FastifyRequest & { rawBody?: Buffer },
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<{ id: string; status: 'queued'; poll: string }> {
    const summary = validateChatRequest(body);
    const id = await this.producer.enqueue({
      tenantId: tenant.tenantId,
      model: summary.model,
      request: request.rawBody?.toString('utf8') ?? JSON.stringify(body),
    });
    const poll = `/v1/results/${id}`;
    void reply.header('location', poll);
    return { id, status: 'queued', poll };
  }
}
