import { setTimeout as sleep } from 'node:timers/promises';

/** One client operation: a chat completion POST, as sent and as answered. */
export interface Operation {
  n: number;
  /** Index of the instance (in the `urls` given to `PacedLoad`) it was sent to. */
  instance: number;
  prompt: string;
  sentAt: number;
  answeredAt?: number;
  status?: number;
  retryAfter?: string | null;
  /** The job id of a 202. */
  id?: string;
  /** The error code of any other answer. */
  code?: string;
  /** A network error or a client-side timeout instead of an answer. */
  error?: string;
}

const FINAL = new Set(['complete', 'dead', 'cancelled', 'expired']);

/**
 * Sends queued chat completion POSTs at a steady rate, round robin over `urls`, and records each
 * one. A request unanswered after `timeoutMs` is recorded as an error, so a hang cannot stall it.
 */
export class PacedLoad {
  readonly history: Operation[] = [];
  private readonly pending = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly urls: string[],
    private readonly key: string,
    private readonly perSecond: number,
    private readonly marker = 'load',
    private readonly timeoutMs = 15_000,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Sends `count` at once (a backlog), recorded like the rest. */
  async burst(count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, () => this.send()));
  }

  /** Stops sending and resolves once every request sent has been answered or given up. */
  async stop(): Promise<Operation[]> {
    this.running = false;
    await this.loop;
    await Promise.all(this.pending);
    return this.history;
  }

  private async run(): Promise<void> {
    // A fixed pacing interval makes the steady rate; sends do not wait for answers.
    const interval = 1_000 / this.perSecond;
    const startedAt = Date.now();
    for (let sent = 0; this.running; sent++) {
      const request = this.send();
      this.pending.add(request);
      void request.finally(() => this.pending.delete(request));
      const next = startedAt + (sent + 1) * interval;
      await sleep(Math.max(0, next - Date.now()));
    }
  }

  private async send(): Promise<void> {
    const n = this.history.length;
    const instance = n % this.urls.length;
    const operation: Operation = {
      n,
      instance,
      prompt: `${this.marker} ${n}`,
      sentAt: Date.now(),
    };
    this.history.push(operation);
    try {
      const response = await fetch(`${this.urls[instance]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fake-model',
          messages: [{ role: 'user', content: operation.prompt }],
        }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      operation.answeredAt = Date.now();
      operation.status = response.status;
      operation.retryAfter = response.headers.get('retry-after');
      if (response.status === 202) operation.id = (JSON.parse(text) as { id: string }).id;
      else operation.code = errorCodeOf(text);
    } catch (error) {
      operation.answeredAt = Date.now();
      operation.error = error instanceof Error ? error.message : String(error);
    }
  }
}

function errorCodeOf(text: string): string {
  try {
    return (JSON.parse(text) as { error: { code: string } }).error.code;
  } catch {
    return text.slice(0, 200);
  }
}

export interface FinalView {
  status: string;
  result: unknown;
}

/**
 * Polls every id through the instances in turn until each reads final, or `timeoutMs` passes;
 * returns the first final view of each id that got one (ids missing from it never did).
 */
export async function readFinals(
  urls: string[],
  key: string,
  ids: string[],
  timeoutMs: number,
): Promise<Map<string, FinalView>> {
  const finals = new Map<string, FinalView>();
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; ; round++) {
    const open = ids.filter((id) => !finals.has(id));
    for (let start = 0; start < open.length; start += 20) {
      await Promise.all(
        open.slice(start, start + 20).map(async (id, index) => {
          const view = await readJob(urls[(round + index) % urls.length], key, id);
          if (view && FINAL.has(view.status)) finals.set(id, view);
        }),
      );
    }
    if (finals.size === ids.length || Date.now() > deadline) return finals;
    await sleep(250);
  }
}

/** `GET /v1/results/:id`, or undefined when it does not answer 200. */
export async function readJob(
  url: string,
  key: string,
  id: string,
): Promise<FinalView | undefined> {
  try {
    const response = await fetch(`${url}/v1/results/${id}`, {
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status !== 200) return undefined;
    return (await response.json()) as FinalView;
  } catch {
    return undefined;
  }
}

/**
 * Reads every id again through every instance: a job whose status or result differs from its
 * first final view ended twice. Returns those ids with both views.
 */
export async function findChangedFinals(
  urls: string[],
  key: string,
  finals: Map<string, FinalView>,
): Promise<{ id: string; first: FinalView; again: FinalView | undefined }[]> {
  const changed: { id: string; first: FinalView; again: FinalView | undefined }[] = [];
  const entries = [...finals];
  for (const url of urls) {
    for (let start = 0; start < entries.length; start += 20) {
      await Promise.all(
        entries.slice(start, start + 20).map(async ([id, first]) => {
          const again = await readJob(url, key, id);
          if (
            again?.status !== first.status ||
            JSON.stringify(again.result) !== JSON.stringify(first.result)
          ) {
            changed.push({ id, first, again });
          }
        }),
      );
    }
  }
  return changed;
}

/** The longest answer time, in ms, of `operations` (0 when none). */
export function slowestAnswerMs(operations: Operation[]): number {
  return Math.max(0, ...operations.map((op) => (op.answeredAt ?? Infinity) - op.sentAt));
}
