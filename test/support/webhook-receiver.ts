import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the receiver answers the requests to one path. */
export type ReceiverBehaviour =
  | { type: 'status'; status: number }
  /** These answers in turn (`hang`: none), then `then` for every later request. */
  | { type: 'sequence'; statuses: (number | 'hang')[]; then: number }
  /** Never answers. */
  | { type: 'hang' };

export interface ReceivedWebhook {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  receivedAt: number;
  answered: number | 'hang';
}

/** A webhook endpoint for tests: records every request, answers as each path is scripted. */
export class WebhookReceiver extends EventEmitter {
  readonly received: ReceivedWebhook[] = [];
  private readonly behaviours = new Map<string, ReceiverBehaviour>();
  private readonly counts = new Map<string, number>();

  private constructor(private readonly server: Server) {
    super();
  }

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (request, response) => receiver.handle(request, response));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port><path>`. */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  script(path: string, behaviour: ReceiverBehaviour): void {
    this.behaviours.set(path, behaviour);
  }

  at(path: string): ReceivedWebhook[] {
    return this.received.filter((request) => request.path === path);
  }

  /** Resolves with the first request to `path` (already received or yet to come). */
  async next(path: string, predicate: (request: ReceivedWebhook) => boolean = () => true) {
    const found = this.at(path).find(predicate);
    if (found) return found;
    for (;;) {
      const [request] = (await once(this, 'request')) as [ReceivedWebhook];
      if (request.path === path && predicate(request)) return request;
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const count = (this.counts.get(path) ?? 0) + 1;
      this.counts.set(path, count);
      const behaviour = this.behaviours.get(path) ?? { type: 'status', status: 200 };
      const status =
        behaviour.type === 'status'
          ? behaviour.status
          : behaviour.type === 'sequence'
            ? (behaviour.statuses[count - 1] ?? behaviour.then)
            : 'hang';
      const received: ReceivedWebhook = {
        path,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
        answered: status,
      };
      this.received.push(received);
      this.emit('request', received);
      if (status === 'hang') return;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
    });
  }
}

/**
 * Checks a Standard Webhooks signature with WebCrypto, independently of infq's own signing
 * code: the secret's base64 part is the HMAC-SHA256 key, the signed text `id.timestamp.body`,
 * and the header a space-separated list of `v1,<base64>` of which one must match.
 */
export async function verifyStandardWebhook(
  secret: string,
  headers: IncomingMessage['headers'],
  body: string,
  toleranceS = 300,
): Promise<boolean> {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') {
    return false;
  }
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceS) {
    return false;
  }
  if (!secret.startsWith('whsec_')) return false;
  const keyBytes = Uint8Array.from(atob(secret.slice('whsec_'.length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey(
    'raw',
    keyBytes,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  for (const entry of signatures.split(' ')) {
    const [version, encoded] = entry.split(',', 2);
    if (version !== 'v1' || !encoded) continue;
    let mac: Uint8Array;
    try {
      mac = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    } catch {
      continue;
    }
    // crypto.subtle.verify compares in constant time.
    if (await crypto.subtle.verify('HMAC', key, mac, signed)) return true;
  }
  return false;
}
