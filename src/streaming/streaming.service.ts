import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import type { TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DispatchService } from '../dispatch/dispatch.service.js';
import type { Admission } from '../limits/admission.js';
import { ChatCompletionsClient } from '../upstream/chat-completions.client.js';
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
 * `"stream": true`: straight to one backend node, never queued, never retried. The stream holds
 * a tenant slot from admission and takes a node place ahead of queued jobs; each event is
 * written to the client as it arrives, reading from the backend only as fast as the client
 * takes it; a client that leaves aborts the backend call. A stream is charged the usage of its
 * usage chunk; one that ends without it (the client left, the backend broke off) is charged its
 * token reservation, unless it was answered with an error before its first byte.
 */
@Injectable()
export class StreamingService implements OnModuleDestroy {
  /** Aborted when the process stops: open streams end at once instead of holding shutdown. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly registry: UpstreamRegistry,
    private readonly client: ChatCompletionsClient,
    private readonly dispatch: DispatchService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleDestroy(): void {
    this.stopping.abort(new Error('infq is shutting down'));
  }

  async proxy(stream: StreamRequest): Promise<void> {
    const { reply, tenant, admission } = stream;
    // From here this stream frees its own lease (slot and place), whatever happens.
    admission.settle();
    const clientGone = new AbortController();
    const onClose = (): void => clientGone.abort(new Error('client disconnected'));
    reply.raw.on('close', onClose);
    // Undefined until the usage chunk: the reservation is charged.
    let totalTokens: number | undefined;
    try {
      const cancelled = AbortSignal.any([clientGone.signal, this.stopping.signal]);
      const upstream = await this.open(stream, cancelled).catch((error: unknown) => {
        // A client gone before the first byte is owed no answer.
        if (clientGone.signal.aborted) return undefined;
        totalTokens = 0; // refused before its first byte: nothing was generated
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
          // Backpressure: a slow client pauses the backend read instead of filling memory.
          if (!reply.raw.write(`${event}\n\n`)) await drained(reply.raw, cancelled);
          // Gone while events were still buffered: no socket will drain again.
          if (cancelled.aborted) break;
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
      reply.raw.off('close', onClose);
      await this.dispatch.releaseStream(tenant.tenantId, admission.id, totalTokens);
    }
  }

  /**
   * Opens the upstream stream at a node place, with the queue client's failover: a connection
   * failure (no response) moves to another node with room; any other failure is the answer.
   */
  private async open(
    stream: StreamRequest,
    cancelled: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const route = this.registry.route(stream.model);
    const placement = await this.dispatch.placeStream(stream.admission.id, route.nodes, cancelled);
    const streamOptions = stream.body.stream_options;
    try {
      return await this.client.withFailover(stream.model, placement, (node, upstreamModel) =>
        this.request(
          node,
          JSON.stringify({
            ...stream.body,
            model: upstreamModel,
            stream_options: {
              ...(typeof streamOptions === 'object' ? streamOptions : {}),
              include_usage: true,
            },
          }),
          cancelled,
        ),
      );
    } catch (error) {
      if (cancelled.aborted || !(error instanceof UpstreamFailureError)) throw error;
      throw streamError(error.failure);
    }
  }

  /** One node; throws `UpstreamFailureError`, or the abort error once the client is gone. */
  private async request(
    node: UpstreamNode,
    body: string,
    cancelled: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const timeoutMs = this.config.upstream.timeoutMs;
    let response: Dispatcher.ResponseData;
    try {
      response = await node.pool.request({
        method: 'POST',
        path: node.path('/chat/completions'),
        headers: node.headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
        body,
        signal: cancelled,
        // Until the first byte, and then between two chunks.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      if (cancelled.aborted) throw error;
      throw new UpstreamFailureError(
        (error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT'
          ? { kind: 'timeout', node: node.url, message: `sent nothing within ${timeoutMs} ms` }
          : { kind: 'connection', node: node.url, message: describeNetworkError(error) },
      );
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return response;
    throw new UpstreamFailureError({
      kind: 'http',
      node: node.url,
      status: response.statusCode,
      message: await readUpstreamErrorMessage(response.body, response.statusCode),
    });
  }
}

/** Resolves when `socket` can take more, or when the stream is (or was already) abandoned. */
function drained(socket: NodeJS.WritableStream, cancelled: AbortSignal): Promise<void> {
  if (cancelled.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      cancelled.removeEventListener('abort', done);
      resolve();
    };
    socket.once('drain', done);
    cancelled.addEventListener('abort', done, { once: true });
  });
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
