import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { DATABASE_URL } from './database-url.js';

/**
 * The PostgreSQL channels every instance listens on, each owned by one feature: tenant and key
 * changes (caches), and job signals (cancel requests, job endings) on the PostgreSQL queue.
 */
export const NOTIFICATION_CHANNELS = {
  tenantChanges: 'infq_tenant_changes',
  jobSignals: 'infq_job_signals',
} as const;
export type NotificationChannel =
  (typeof NOTIFICATION_CHANNELS)[keyof typeof NOTIFICATION_CHANNELS];

/** How the listener's connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = 'infq-notifications';

// A silently dead connection must be noticed well within the 1 s revocation promise: the listener
// is pinged this often, and trusted only while its last answer is younger than LISTENER_FRESH_MS.
const PING_INTERVAL_MS = 200;
const LISTENER_FRESH_MS = 500;
// How long `caughtUp()` waits for its ping before answering false.
const CAUGHT_UP_TIMEOUT_MS = 300;
// A ping unanswered this long means the connection is gone, whatever TCP says.
const PING_TIMEOUT_MS = 2_000;
// Pings asked for by callers of `caughtUp()` go out at most this often, however many wait.
const MIN_PING_GAP_MS = 20;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2_000;

/** A channel's subscriber: each payload, and `resync` whenever some may have been missed. */
export interface NotificationListener {
  message(payload: string): void;
  resync(): void;
}

/**
 * Broadcasts small messages to every instance through PostgreSQL LISTEN/NOTIFY: one listening
 * connection per process, shared by every channel. PostgreSQL delivers a notification at its
 * sender's commit, in commit order, to every connected listener. The connection is pinged, so a
 * silently dropped one is noticed within a second, and reconnected with backoff; whatever was
 * sent meanwhile is lost, so each (re)connect tells every subscriber to resync.
 */
@Injectable()
export class ClusterNotifications implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ClusterNotifications.name);
  private readonly listeners = new Map<string, Set<NotificationListener>>();
  private listener: pg.Client | undefined;
  private connected = false;
  private closing = false;
  private lastAnswerAt = 0;
  private pingInFlightSince: number | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private lastPingSentAt = 0;
  /** Callers of `caughtUp()` waiting for the next ping, and those the ping in flight answers. */
  private waiting: ((caughtUp: boolean) => void)[] = [];
  private covered: ((caughtUp: boolean) => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private outageStartedAt: number | undefined;

  constructor(
    @Inject(DATABASE_URL) private readonly databaseUrl: string,
    private readonly dataSource: DataSource,
  ) {}

  /** Listens on `channel`; returns the unsubscribe function. */
  subscribe(channel: NotificationChannel, listener: NotificationListener): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Sends `payload` (under 8000 bytes) to every instance listening on `channel`. */
  async publish(channel: NotificationChannel, payload: string): Promise<void> {
    await this.dataSource.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /**
   * True while the listener is connected and answered a ping moments ago: what was derived from
   * notifications must not be trusted otherwise, since one may be passing unheard.
   */
  get isListening(): boolean {
    return this.connected && Date.now() - this.lastAnswerAt < LISTENER_FRESH_MS;
  }

  /**
   * Resolves true once every notification committed before this call has been heard (a ping sent after
   * it was answered: PostgreSQL delivers pending notifications first), false if the listener
   * is down. Many callers share one ping.
   */
  caughtUp(): Promise<boolean> {
    if (!this.connected) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.pingSoon();
      // A silently dead connection must not hold callers past the revocation promise.
      setTimeout(() => resolve(false), CAUGHT_UP_TIMEOUT_MS).unref();
    });
  }

  /** Connected, though perhaps not heard from lately (see `isListening`). */
  get isConnected(): boolean {
    return this.connected;
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pingTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.soonTimer);
    this.settleWaiting(false);
    clearTimeout(this.retryTimer);
    await this.listener?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      keepAlive: true,
      application_name: LISTENER_APPLICATION_NAME,
    });
    client.on('error', () => this.onDisconnect(client));
    client.on('end', () => this.onDisconnect(client));
    client.on('notification', (message) => {
      this.lastAnswerAt = Date.now();
      this.deliver(message.channel, message.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of Object.values(NOTIFICATION_CHANNELS)) {
        await client.query(`LISTEN ${channel}`);
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.listener = client;
    this.connected = true;
    this.lastAnswerAt = Date.now();
    this.pingInFlightSince = undefined;
    if (this.outageStartedAt !== undefined) {
      this.logger.log(
        `notification listener back after ${Date.now() - this.outageStartedAt} ms; caches trusted again`,
      );
      this.outageStartedAt = undefined;
    }
    // Anything derived before this point may predate a notification never heard.
    this.resync();
  }

  private deliver(channel: string, payload: string): void {
    for (const listener of this.listeners.get(channel) ?? []) {
      this.guarded(channel, () => listener.message(payload));
    }
  }

  private resync(): void {
    for (const [channel, listeners] of this.listeners) {
      for (const listener of listeners) this.guarded(channel, () => listener.resync());
    }
  }

  /** One failing subscriber is logged and never keeps the others from hearing. */
  private guarded(channel: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logger.warn(`${channel} listener failed: ${(error as Error).message}`);
    }
  }

  private ping(): void {
    const client = this.listener;
    if (!this.connected || !client) return;
    if (this.pingInFlightSince !== undefined) {
      if (Date.now() - this.pingInFlightSince > PING_TIMEOUT_MS) {
        this.onDisconnect(client, `no answer to a ping within ${PING_TIMEOUT_MS} ms`);
      }
      return;
    }
    const sentAt = Date.now();
    this.pingInFlightSince = sentAt;
    this.lastPingSentAt = sentAt;
    this.covered = this.waiting;
    this.waiting = [];
    client.query('SELECT 1').then(
      () => {
        if (client !== this.listener) return;
        this.pingInFlightSince = undefined;
        this.lastAnswerAt = Math.max(this.lastAnswerAt, sentAt);
        const answered = this.covered;
        this.covered = [];
        for (const resolve of answered) resolve(true);
        if (this.waiting.length > 0) this.pingSoon();
      },
      (error: Error) => this.onDisconnect(client, error.message),
    );
  }

  private pingSoon(): void {
    if (this.soonTimer || this.pingInFlightSince !== undefined) return;
    const delay = Math.max(0, this.lastPingSentAt + MIN_PING_GAP_MS - Date.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.ping();
    }, delay);
  }

  private settleWaiting(caughtUp: boolean): void {
    const settled = [...this.covered, ...this.waiting];
    this.covered = [];
    this.waiting = [];
    for (const resolve of settled) resolve(caughtUp);
  }

  private onDisconnect(client: pg.Client, reason = 'connection closed'): void {
    if (client !== this.listener || !this.connected) return;
    this.connected = false;
    this.listener = undefined;
    this.settleWaiting(false);
    // A connection that stopped answering may never emit 'end': drop its socket outright.
    (
      client as unknown as { connection?: { stream?: { destroy(): void } } }
    ).connection?.stream?.destroy();
    client.end().catch(() => undefined);
    this.resync();
    if (this.closing) return;
    this.outageStartedAt = Date.now();
    // Once per outage: reconnect attempts are not logged one by one.
    this.logger.warn(
      `notification listener lost (${reason}); key and tenant caches bypassed until it reconnects`,
    );
    this.scheduleReconnect(FIRST_RETRY_MS);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.connect().catch(() => this.scheduleReconnect(Math.min(delayMs * 2, MAX_RETRY_MS)));
    }, delayMs);
    this.retryTimer.unref();
  }
}
