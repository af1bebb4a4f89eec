import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import type { TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Admission } from '../limits/admission.js';
import { STREAM_SLOT_TTL_MS } from '../limits/limits-store.js';
import { LimitsService } from '../limits/limits.service.js';
import { readUpstreamErrorMessage } from '../upstream/capped-body.js';
import {
  describeFailure,
  describeNetworkError,
  UpstreamFailureError,
  type UpstreamFailure,
} from '../upstream/upstream-failure.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import { UpstreamRegistry } from '../upstream/upstream-registry.service.js';
import { eventData, sseEvents, usageOf } from './sse-events.js';

export interface StreamRequest {
  reply: FastifyReply;
  tenant: TenantPrincipal;
  admission: Admission;
  /** The client's parsed request body. */
  body: Record<string, unknown>;
  model: string;
  /** Whether the client asked for the usage chunk itself. */
  includeUsage: boolean;
}

/**
 * `"stream": true`: straight to one backend node, never queued, never retried. Each event is
 * written to the client the moment it arrives; a client that leaves aborts the backend call.
 */
@Injectable()
export class StreamingService implements OnModuleDestroy {
  /** Aborted when the process stops: open streams end at once instead of holding shutdown. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly registry: UpstreamRegistry,
    private readonly limits: LimitsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleDestroy(): void {
    this.stopping.abort(new Error('infq is shutting down'));
  }

  async proxy(stream: StreamRequest): Promise<void> {
    const { reply, tenant, admission } = stream;
    // From here this stream frees its own slot, whatever happens.
    admission.handedOver = true;
    const clientGone = new AbortController();
    const onClose = (): void => clientGone.abort(new Error('client disconnected'));
    reply.raw.on('close', onClose);
    const heartbeat = setInterval(
      () => void this.limits.refreshStreamSlot(tenant.tenantId, admission.id),
      STREAM_SLOT_TTL_MS / 3,
    );
    let totalTokens = 0;
    try {
      const cancelled = AbortSignal.any([clientGone.signal, this.stopping.signal]);
      const upstream = await this.open(stream, cancelled).catch((error: unknown) => {
        // A client gone before the first byte is owed no answer.
        if (clientGone.signal.aborted) return undefined;
        if (this.stopping.signal.aborted) throw shuttingDown();
        throw error;
      });
      if (!upstream) return;
      reply.hijack();
      reply.raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      reply.raw.flushHeaders();
      try {
        for await (const event of sseEvents(upstream.body)) {
          const data = eventData(event);
          const usage = data === undefined ? undefined : usageOf(data);
          if (usage) totalTokens = usage.totalTokens;
          // Usage is always requested upstream; its chunk reaches only clients who asked for it.
          if (usage?.usageOnly && !stream.includeUsage) continue;
          reply.raw.write(`${event}\n\n`);
        }
      } catch (error) {
        if (!clientGone.signal.aborted) {
          const failure = this.stopping.signal.aborted
            ? shuttingDown()
            : new AppError(
                ErrorCode.UpstreamError,
                `Backend stream broke off: ${(error as Error).message}`,
              );
          reply.raw.write(`data: ${JSON.stringify(failure.toBody())}\n\n`);
        }
      }
      reply.raw.end();
    } finally {
      clearInterval(heartbeat);
      reply.raw.off('close', onClose);
      await this.limits.release(tenant.tenantId, admission.id, totalTokens);
    }
  }

  /**
   * Opens the upstream stream on the route's nodes as the queue's client does: a connection
   * failure (no response) fails over to the next node; any other failure is the answer.
   */
  private async open(
    stream: StreamRequest,
    clientGone: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const route = this.registry.route(stream.model);
    if (route.nodes.length === 0) {
      throw streamError({
        kind: 'no_upstream',
        message: route.unavailableReason ?? `no node serves model ${stream.model}`,
      });
    }
    const streamOptions = stream.body.stream_options;
    const body = JSON.stringify({
      ...stream.body,
      model: route.upstreamModel,
      stream_options: {
        ...(typeof streamOptions === 'object' ? streamOptions : {}),
        include_usage: true,
      },
    });
    let lastFailure: UpstreamFailure | undefined;
    for (const [index, node] of route.nodes.entries()) {
      // A node found down by a concurrent call since the route was drawn is skipped.
      if (index > 0 && !node.isEligible(route.upstreamModel)) continue;
      try {
        return await this.request(node, body, clientGone);
      } catch (error) {
        if (clientGone.aborted || !(error instanceof UpstreamFailureError)) throw error;
        lastFailure = error.failure;
        if (lastFailure.kind !== 'connection') break;
      }
    }
    throw streamError(lastFailure!);
  }

  /** One node; throws `UpstreamFailureError`, or the abort error once the client is gone. */
  private async request(
    node: UpstreamNode,
    body: string,
    clientGone: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const timeoutMs = this.config.upstream.timeoutMs;
    // Feeds the node's health: connection failures and errors count against it, as in the queue.
    const call = this.registry.startCall(node);
    let response: Dispatcher.ResponseData;
    try {
      response = await node.pool.request({
        method: 'POST',
        path: node.path('/chat/completions'),
        headers: node.headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
        body,
        signal: clientGone,
        // Until the first byte, and then between two chunks.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      if (clientGone.aborted) {
        call.abandon();
        throw error;
      }
      const failure: UpstreamFailure =
        (error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT'
          ? { kind: 'timeout', node: node.url, message: `sent nothing within ${timeoutMs} ms` }
          : { kind: 'connection', node: node.url, message: describeNetworkError(error) };
      call.fail(failure);
      throw new UpstreamFailureError(failure);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      call.succeed();
      return response;
    }
    const failure: UpstreamFailure = {
      kind: 'http',
      node: node.url,
      status: response.statusCode,
      message: await readUpstreamErrorMessage(response.body, response.statusCode),
    };
    call.fail(failure);
    throw new UpstreamFailureError(failure);
  }
}

/** A stream's failure before its first byte, answered in the contract's shape. */
function streamError(failure: UpstreamFailure): AppError {
  const message = describeFailure(failure);
  switch (failure.kind) {
    case 'no_upstream':
      return new AppError(ErrorCode.NoUpstreamAvailable, message);
    case 'timeout':
      return new AppError(ErrorCode.UpstreamTimeout, message);
    case 'http':
      // The backend's own status when it is an error status, else a plain 502.
      return new AppError(ErrorCode.UpstreamError, message, {
        status: failure.status >= 400 && failure.status <= 599 ? failure.status : 502,
      });
    default:
      return new AppError(ErrorCode.UpstreamError, message);
  }
}

const shuttingDown = (): AppError =>
  new AppError(ErrorCode.ServiceUnavailable, 'infq is shutting down; send the request again', {
    retryAfterS: 1,
  });
