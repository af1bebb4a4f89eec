import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BodyTooLargeError, readCappedText, readUpstreamErrorMessage } from './capped-body.js';
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

/**
 * Which node an attempt or stream uses. The dispatcher placed it on `nodeId` ('' when none);
 * after a connection failure, `moveTo` asks for a place at the first of `candidates` with room.
 */
export interface NodePlacement {
  readonly nodeId: string;
  moveTo(candidates: readonly UpstreamNode[]): Promise<string | null>;
}

/** Calls `POST /chat/completions` on a backend, failing over between nodes on connection errors. */
@Injectable()
export class ChatCompletionsClient {
  constructor(
    private readonly registry: UpstreamRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * One attempt on the node the dispatcher placed it on. Only a connection failure (no response)
   * moves on, to another healthy node serving the model that has room. Throws
   * `UpstreamFailureError` (`no_upstream` when no node is eligible), or the signal's reason when
   * `signal` aborts.
   */
  complete(
    requestBody: string,
    model: string,
    signal: AbortSignal,
    placement: NodePlacement,
    /** Sent as `X-Request-Id`, so a backend's logs can be matched to the job. */
    requestId?: string,
  ): Promise<ChatCompletionAnswer> {
    return this.withFailover(model, placement, async (node, upstreamModel) => {
      const body = upstreamModel === model ? requestBody : replaceModel(requestBody, upstreamModel);
      return this.post(node, body, signal, requestId);
    });
  }

  /**
   * The one failover loop, for queued attempts and streams alike: `call` runs on the placed node,
   * and on another with room after a connection failure. Each call's outcome feeds the node's
   * health; `call` throws `UpstreamFailureError` for failures, anything else for an abort.
   */
  async withFailover<T>(
    model: string,
    placement: NodePlacement,
    call: (node: UpstreamNode, upstreamModel: string) => Promise<T>,
  ): Promise<T> {
    const route = this.registry.route(model);
    if (route.nodes.length === 0) {
      throw new UpstreamFailureError({
        kind: 'no_upstream',
        message: route.unavailableReason ?? `no node serves model ${model}`,
      });
    }
    const tried = new Set<string>();
    let nodeId: string | null = route.nodes.some((node) => node.id === placement.nodeId)
      ? placement.nodeId
      : await placement.moveTo(route.nodes);
    let lastFailure: UpstreamFailure = {
      kind: 'no_upstream',
      message: `every node serving model ${model} is busy`,
    };
    while (nodeId) {
      const node = route.nodes.find((candidate) => candidate.id === nodeId)!;
      tried.add(node.id);
      const outcome = this.registry.startCall(node);
      try {
        const answer = await call(node, route.upstreamModel);
        outcome.succeed();
        return answer;
      } catch (error) {
        if (!(error instanceof UpstreamFailureError)) {
          outcome.abandon();
          throw error;
        }
        outcome.fail(error.failure);
        lastFailure = error.failure;
        if (lastFailure.kind !== 'connection') break;
      }
      // A node found down by a concurrent call since the route was drawn is skipped.
      const rest = route.nodes.filter(
        (node) => !tried.has(node.id) && node.isEligible(route.upstreamModel),
      );
      nodeId = rest.length > 0 ? await placement.moveTo(rest) : null;
    }
    throw new UpstreamFailureError(lastFailure);
  }

  private async post(
    node: UpstreamNode,
    body: string,
    signal: AbortSignal,
    requestId: string | undefined,
  ): Promise<ChatCompletionAnswer> {
    const deadline = withDeadline(signal, this.config.upstream.timeoutMs);
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
        signal: deadline.signal,
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
      let text: string;
      try {
        text = await readCappedText(response.body, this.config.upstream.maxResultBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        throw new UpstreamFailureError({
          kind: 'too_large',
          node: node.url,
          message: `the answer exceeds MAX_RESULT_BYTES (${error.maxBytes} bytes)`,
        });
      }
      return { node: node.url, body: text, totalTokens: validateCompletion(text, node.url) };
    } catch (error) {
      if (error instanceof UpstreamFailureError) throw error;
      if (signal.aborted) throw signal.reason;
      if (deadline.passed()) {
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
    } finally {
      deadline.clear();
    }
  }
}

/**
 * `signal`, also aborted once `ms` pass; `clear` when done. One controller and one timer per
 * call (cheaper than `AbortSignal.timeout` with `AbortSignal.any` on every attempt).
 */
function withDeadline(signal: AbortSignal, ms: number) {
  const controller = new AbortController();
  let passed = false;
  const follow = (): void => controller.abort(signal.reason);
  const timer = setTimeout(() => {
    passed = true;
    controller.abort(DEADLINE_PASSED);
  }, ms);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    passed: () => passed,
    clear: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', follow);
    },
  };
}

const DEADLINE_PASSED = new Error('the upstream timeout passed');

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
