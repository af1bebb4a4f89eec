import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { readUpstreamErrorMessage } from './capped-body.js';
import {
  describeNetworkError,
  parseRetryAfter,
  UpstreamFailureError,
  type UpstreamFailure,
} from './upstream-failure.js';
import type { UpstreamNode } from './upstream-node.js';
import { UpstreamRegistry } from './upstream-registry.service.js';

/** A backend's successful answer, kept as the exact text it sent. */
export interface ChatCompletionAnswer {
  node: string;
  /** The backend's JSON, verbatim. */
  body: string;
  totalTokens: number;
}

/** Calls `POST /chat/completions` on a backend, failing over between nodes on connection errors. */
@Injectable()
export class ChatCompletionsClient {
  constructor(
    private readonly registry: UpstreamRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * One attempt. The healthy nodes serving the model are tried in stake order; only a connection
   * failure (no response) moves on to the next. Each call's outcome feeds the node's health.
   * Throws `UpstreamFailureError` (`no_upstream` when no node is eligible), or the signal's
   * reason when `signal` aborts.
   */
  async complete(
    requestBody: string,
    model: string,
    signal: AbortSignal,
    /** Sent as `X-Request-Id`, so a backend's logs can be matched to the job. */
    requestId?: string,
  ): Promise<ChatCompletionAnswer> {
    const route = this.registry.route(model);
    if (route.nodes.length === 0) {
      throw new UpstreamFailureError({
        kind: 'no_upstream',
        message: route.unavailableReason ?? `no node serves model ${model}`,
      });
    }
    const body =
      route.upstreamModel === model ? requestBody : replaceModel(requestBody, route.upstreamModel);
    let lastFailure: UpstreamFailure | undefined;
    for (const [index, node] of route.nodes.entries()) {
      // A node found down by a concurrent call since the route was drawn is skipped.
      if (index > 0 && !node.isEligible(route.upstreamModel)) continue;
      const call = this.registry.startCall(node);
      try {
        const answer = await this.post(node, body, signal, requestId);
        call.succeed();
        return answer;
      } catch (error) {
        if (!(error instanceof UpstreamFailureError)) {
          call.abandon();
          throw error;
        }
        call.fail(error.failure);
        lastFailure = error.failure;
        if (lastFailure.kind !== 'connection') break;
      }
    }
    throw new UpstreamFailureError(lastFailure!);
  }

  private async post(
    node: UpstreamNode,
    body: string,
    signal: AbortSignal,
    requestId: string | undefined,
  ): Promise<ChatCompletionAnswer> {
    const timeout = AbortSignal.timeout(this.config.upstream.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    try {
      const response = await node.pool.request({
        method: 'POST',
        path: node.path('/chat/completions'),
        headers: node.headers({
          'content-type': 'application/json',
          accept: 'application/json',
          ...(requestId && { 'x-request-id': requestId }),
        }),
        body,
        signal: combined,
      });
      if (response.statusCode < 200 || response.statusCode >= 300) {
        throw new UpstreamFailureError({
          kind: 'http',
          node: node.url,
          status: response.statusCode,
          message: await readUpstreamErrorMessage(response.body, response.statusCode),
          retryAfterMs: parseRetryAfter(response.headers['retry-after']),
        });
      }
      const text = await response.body.text();
      return { node: node.url, body: text, totalTokens: validateCompletion(text, node.url) };
    } catch (error) {
      if (error instanceof UpstreamFailureError) throw error;
      if (signal.aborted) throw signal.reason;
      if (timeout.aborted) {
        throw new UpstreamFailureError({
          kind: 'timeout',
          node: node.url,
          message: `no answer within ${this.config.upstream.timeoutMs} ms`,
        });
      }
      throw new UpstreamFailureError({
        kind: 'connection',
        node: node.url,
        message: describeNetworkError(error),
      });
    }
  }
}

/** Checks the answer is a JSON object and returns its `usage.total_tokens` (0 when absent). */
function validateCompletion(text: string, node: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UpstreamFailureError({ kind: 'invalid_response', node, message: 'body is not JSON' });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UpstreamFailureError({
      kind: 'invalid_response',
      node,
      message: 'body is not a JSON object',
    });
  }
  const total = (parsed as { usage?: { total_tokens?: unknown } }).usage?.total_tokens;
  return typeof total === 'number' && Number.isFinite(total) && total > 0 ? Math.floor(total) : 0;
}

function replaceModel(requestBody: string, model: string): string {
  const parsed = JSON.parse(requestBody) as Record<string, unknown>;
  return JSON.stringify({ ...parsed, model });
}
