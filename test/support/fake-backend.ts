import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake backend does with one chat completion request. */
export type FakeBehaviour =
  | { type: 'ok'; delayMs?: number; content?: string; totalTokens?: number }
  | { type: 'status'; status: number; message?: string; retryAfter?: string; delayMs?: number }
  /**
   * A latency drawn uniformly from `minDelayMs`–`maxDelayMs`, then `failureStatus` (default
   * 500) with probability `failureRate`, else an `ok` answer.
   */
  | {
      type: 'random';
      minDelayMs: number;
      maxDelayMs: number;
      failureRate?: number;
      failureStatus?: number;
    }
  /** Holds the request open until the client gives up. */
  | { type: 'hang' }
  /** Destroys the connection without an answer. */
  | { type: 'reset' }
  /** Answers these exact bytes (for malformed answers). */
  | { type: 'raw'; status: number; body: string | Buffer; contentType?: string }
  /**
   * A 200 of `bytes` bytes (a JSON string padded with spaces, so never allocated whole), written
   * with backpressure until done or the client goes. `sentBytes` on the record says how far.
   */
  | { type: 'huge'; bytes: number }
  /** A 200 that never ends and never sends a blank line (`data: xxx…` forever), until the client goes. */
  | { type: 'endless'; contentType?: string }
  /**
   * A stream of `bytes` bytes of SSE chunks (about 1 KiB each), written with backpressure until
   * done or the client goes; `sentBytes` on the record says how far.
   */
  | { type: 'bigStream'; bytes: number }
  /** Streams `tokens` as SSE chunks, `intervalMs` apart; `cutAfter` ends the connection early. */
  | {
      type: 'stream';
      tokens?: string[];
      intervalMs?: number;
      cutAfter?: number;
      totalTokens?: number;
    };

export interface FakeRequest {
  id: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
  /** The last message's content, used to pick a script. */
  prompt: string;
  receivedAt: number;
  aborted: boolean;
  finished: boolean;
  /** When the response closed (answered, or its connection gone); for an abort, whether that
   * took the socket with it. */
  closedAt?: number;
  socketClosed?: boolean;
  /** The status answered, once the answer was written in full. */
  status?: number;
  /** What the fake answered, byte for byte (JSON answers only). */
  responseBody?: string;
  /** Bytes written for a `huge` or `endless` answer. */
  sentBytes?: number;
}

/** What the fake backend does with `GET /models` (the health probe). */
export type FakeModelsBehaviour =
  | { type: 'ok' }
  | { type: 'status'; status: number }
  /** Holds the request open until the client gives up. */
  | { type: 'hang' };

export interface FakeBackendOptions {
  models?: string[];
  modelsBehaviour?: FakeModelsBehaviour;
  port?: number;
  defaultBehaviour?: FakeBehaviour;
}

/**
 * An OpenAI-compatible backend whose behaviour tests set: latency, statuses, Retry-After,
 * resets, hangs and paced streams. Requests are matched to scripts by a marker in the prompt,
 * so concurrent tests do not disturb each other.
 */
export class FakeBackend extends EventEmitter {
  readonly requests: FakeRequest[] = [];
  /** Chat completion requests open right now, and the most ever open at once. */
  inFlight = 0;
  maxInFlight = 0;
  models: string[];
  modelsBehaviour: FakeModelsBehaviour;
  defaultBehaviour: FakeBehaviour;
  private readonly scripts = new Map<string, FakeBehaviour[]>();
  private refusing = false;
  private nextId = 1;
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    private readonly server: Server,
    options: FakeBackendOptions,
  ) {
    super();
    this.setMaxListeners(0);
    this.models = options.models ?? ['fake-model'];
    this.modelsBehaviour = options.modelsBehaviour ?? { type: 'ok' };
    this.defaultBehaviour = options.defaultBehaviour ?? { type: 'ok' };
  }

  static async start(options: FakeBackendOptions = {}): Promise<FakeBackend> {
    const server = createServer();
    const backend = new FakeBackend(server, options);
    server.on('request', (request, response) => void backend.handle(request, response));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      if (backend.refusing) {
        socket.destroy();
        return;
      }
      backend.sockets.add(socket);
      socket.on('close', () => backend.sockets.delete(socket));
    });
    server.listen(options.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    return backend;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Connections open to the fake right now (idle keep-alive ones included). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Base URL as infq's BUS_NODES expects it. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Requests whose prompt contains `marker` take these behaviours in turn; the last one repeats. */
  script(marker: string, ...behaviours: FakeBehaviour[]): void {
    this.scripts.set(marker, behaviours);
  }

  /** While true, every new connection is closed at once (a node that is down). */
  setRefusing(refusing: boolean): void {
    this.refusing = refusing;
    if (refusing) for (const socket of this.sockets) socket.destroy();
  }

  completions(marker?: string): FakeRequest[] {
    return this.requests.filter(
      (request) =>
        request.path.endsWith('/chat/completions') && (!marker || request.prompt.includes(marker)),
    );
  }

  /** `GET /models` requests (health probes) received so far. */
  modelRequests(): FakeRequest[] {
    return this.requests.filter(
      (request) => request.method === 'GET' && request.path.endsWith('/models'),
    );
  }

  /** Resolves with the next `GET /models` request (a probe) received from now on. */
  nextModelRequest(timeoutMs = 10_000): Promise<FakeRequest> {
    const after = this.nextId;
    return this.waitForRequest(
      (request) =>
        request.id >= after && request.method === 'GET' && request.path.endsWith('/models'),
      timeoutMs,
    );
  }

  /** Resolves with the first recorded request (past or future) that satisfies `predicate`. */
  async waitForRequest(
    predicate: (request: FakeRequest) => boolean,
    timeoutMs = 10_000,
  ): Promise<FakeRequest> {
    return this.waitFor('request', predicate, timeoutMs);
  }

  /** Resolves once a request satisfying `predicate` has been aborted by its client. */
  async waitForAbort(
    predicate: (request: FakeRequest) => boolean,
    timeoutMs = 10_000,
  ): Promise<FakeRequest> {
    return this.waitFor('aborted', (request) => request.aborted && predicate(request), timeoutMs);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private waitFor(
    event: 'request' | 'aborted',
    predicate: (request: FakeRequest) => boolean,
    timeoutMs: number,
  ): Promise<FakeRequest> {
    const existing = this.requests.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, listener);
        reject(new Error(`fake backend: no matching ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (request: FakeRequest): void => {
        if (!predicate(request)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(request);
      };
      this.on(event, listener);
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> | undefined;
    try {
      body = chunks.length
        ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
        : undefined;
    } catch {
      body = undefined;
    }
    const messages = Array.isArray(body?.messages)
      ? (body.messages as { content?: unknown }[])
      : [];
    const last = messages.at(-1)?.content;
    const record: FakeRequest = {
      id: this.nextId++,
      method: request.method ?? 'GET',
      path: (request.url ?? '/').split('?')[0],
      headers: request.headers,
      body,
      prompt: typeof last === 'string' ? last : JSON.stringify(last ?? ''),
      receivedAt: Date.now(),
      aborted: false,
      finished: false,
    };
    this.requests.push(record);
    const isCompletion = record.path.endsWith('/chat/completions');
    if (isCompletion) this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    response.on('close', () => {
      if (isCompletion) this.inFlight--;
    });
    response.on('close', () => {
      record.closedAt = Date.now();
      record.socketClosed = request.socket.destroyed;
      if (!response.writableFinished) {
        record.aborted = true;
        this.emit('aborted', record);
      }
    });
    response.on('finish', () => {
      record.finished = true;
      record.status = response.statusCode;
      this.emit('finished', record);
    });
    this.emit('request', record);

    if (record.method === 'GET' && record.path.endsWith('/models')) {
      if (this.modelsBehaviour.type === 'hang') return;
      if (this.modelsBehaviour.type === 'status') {
        json(response, this.modelsBehaviour.status, {
          error: { message: `fake status ${this.modelsBehaviour.status}`, type: 'fake_error' },
        });
        return;
      }
      json(response, 200, {
        object: 'list',
        data: this.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
      });
      return;
    }
    if (record.method !== 'POST' || !record.path.endsWith('/chat/completions')) {
      json(response, 404, { error: { message: 'not found', type: 'not_found_error' } });
      return;
    }
    if (!body) {
      json(response, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error' } });
      return;
    }
    const behaviour = this.pick(record.prompt, body.stream === true);
    await this.perform(behaviour, record, body, request, response);
  }

  private pick(prompt: string, stream: boolean): FakeBehaviour {
    for (const [marker, behaviours] of this.scripts) {
      if (!prompt.includes(marker)) continue;
      return behaviours.length > 1 ? behaviours.shift()! : behaviours[0];
    }
    return stream && this.defaultBehaviour.type === 'ok'
      ? { type: 'stream' }
      : this.defaultBehaviour;
  }

  private async perform(
    behaviour: FakeBehaviour,
    record: FakeRequest,
    body: Record<string, unknown>,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    switch (behaviour.type) {
      case 'random': {
        const delayMs =
          behaviour.minDelayMs + Math.random() * (behaviour.maxDelayMs - behaviour.minDelayMs);
        const fails = Math.random() < (behaviour.failureRate ?? 0);
        return this.perform(
          fails
            ? { type: 'status', status: behaviour.failureStatus ?? 500, delayMs }
            : { type: 'ok', delayMs },
          record,
          body,
          request,
          response,
        );
      }
      case 'ok': {
        await pause(behaviour.delayMs, response);
        const content = behaviour.content ?? `echo: ${record.prompt}`;
        const total = behaviour.totalTokens ?? 10 + content.length;
        record.responseBody = json(response, 200, {
          id: `chatcmpl-fake-${record.id}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: total - 10, total_tokens: total },
        });
        return;
      }
      case 'status': {
        await pause(behaviour.delayMs, response);
        const headers: Record<string, string> = behaviour.retryAfter
          ? { 'retry-after': behaviour.retryAfter }
          : {};
        json(
          response,
          behaviour.status,
          {
            error: {
              message: behaviour.message ?? `fake status ${behaviour.status}`,
              type: 'fake_error',
            },
          },
          headers,
        );
        return;
      }
      case 'hang':
        return; // the response stays open until the client aborts
      case 'reset':
        request.socket.destroy();
        return;
      case 'huge':
      case 'endless': {
        response.writeHead(200, {
          'content-type':
            behaviour.type === 'endless'
              ? (behaviour.contentType ?? 'text/event-stream')
              : 'application/json',
        });
        const piece = Buffer.from(
          behaviour.type === 'endless' ? `data: ${'x'.repeat(65_530)}` : ' '.repeat(65_536),
        );
        const total = behaviour.type === 'huge' ? behaviour.bytes : Number.POSITIVE_INFINITY;
        record.sentBytes = 0;
        if (behaviour.type === 'huge') {
          response.write('{"filler":"');
          record.sentBytes += 11;
        }
        while (record.sentBytes < total - 2 && !response.destroyed && !request.socket.destroyed) {
          const size = Math.min(piece.length, total - 2 - record.sentBytes);
          record.sentBytes += size;
          if (!response.write(size === piece.length ? piece : piece.subarray(0, size))) {
            await Promise.race([once(response, 'drain'), once(response, 'close')]);
          }
        }
        if (!response.destroyed) response.end(behaviour.type === 'huge' ? '"}' : '');
        return;
      }
      case 'bigStream': {
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
        });
        const id = `chatcmpl-fake-${record.id}`;
        const created = Math.floor(Date.now() / 1000);
        const event = Buffer.from(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { content: 'x'.repeat(900) }, finish_reason: null }] })}\n\n`,
        );
        record.sentBytes = 0;
        let events = 0;
        while (record.sentBytes < behaviour.bytes && !response.destroyed) {
          record.sentBytes += event.length;
          events++;
          if (!response.write(event)) {
            await Promise.race([once(response, 'drain'), once(response, 'close')]);
          }
        }
        if (response.destroyed) return;
        response.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 10, completion_tokens: events, total_tokens: 10 + events } })}\n\n`,
        );
        response.end('data: [DONE]\n\n');
        return;
      }
      case 'raw':
        response.writeHead(behaviour.status, {
          'content-type': behaviour.contentType ?? 'application/json',
        });
        response.end(behaviour.body);
        return;
      case 'stream': {
        const tokens = behaviour.tokens ?? ['Hello', ' from', ' the', ' fake', ' backend', '.'];
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
        });
        response.flushHeaders();
        const id = `chatcmpl-fake-${record.id}`;
        const created = Math.floor(Date.now() / 1000);
        for (const [index, token] of tokens.entries()) {
          if (behaviour.cutAfter !== undefined && index >= behaviour.cutAfter) {
            request.socket.destroy();
            return;
          }
          if (index > 0) await pause(behaviour.intervalMs, response);
          if (response.destroyed) return;
          const chunk = {
            id,
            object: 'chat.completion.chunk',
            created,
            model,
            choices: [
              {
                index: 0,
                delta: index === 0 ? { role: 'assistant', content: token } : { content: token },
                finish_reason: null,
              },
            ],
          };
          response.write(`data: ${JSON.stringify(chunk)}\n\n`);
          this.emit('token', { record, index, token, at: Date.now() });
        }
        response.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
        );
        const options = body.stream_options as { include_usage?: unknown } | undefined;
        if (options?.include_usage === true) {
          const total = behaviour.totalTokens ?? 10 + tokens.length;
          response.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 10, completion_tokens: total - 10, total_tokens: total } })}\n\n`,
          );
        }
        response.end('data: [DONE]\n\n');
        return;
      }
    }
  }
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): string {
  const text = JSON.stringify(body);
  if (response.destroyed) return text;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
  return text;
}

function pause(ms: number | undefined, response: ServerResponse): Promise<void> {
  if (!ms) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      response.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    response.once('close', done);
  });
}
