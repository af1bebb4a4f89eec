import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import pg from 'pg';
import { Subject } from 'rxjs';
import { DataSource } from 'typeorm';
import { DATABASE_URL } from '../database/database.module.js';

const CHANNEL = 'infq_tenant_changes';
const RECONNECT_DELAY_MS = 500;

/** What changed; listeners drop whatever they derived from it. */
export type TenantChange = { kind: 'tenant'; tenantId: string } | { kind: 'key'; keyId: string };

/**
 * Broadcasts tenant and key changes to every instance through PostgreSQL LISTEN/NOTIFY,
 * so caches of keys and limits are dropped within milliseconds everywhere.
 */
@Injectable()
export class TenantChangesClient implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(TenantChangesClient.name);
  private readonly changes = new Subject<TenantChange | 'resync'>();
  private listener: pg.Client | undefined;
  private connected = false;
  private closing = false;

  /** Emits each change, and `'resync'` whenever changes may have been missed. */
  readonly changes$ = this.changes.asObservable();

  constructor(
    @Inject(DATABASE_URL) private readonly databaseUrl: string,
    private readonly dataSource: DataSource,
  ) {}

  /** False while the listener is down: caches must not be trusted then. */
  get isListening(): boolean {
    return this.connected;
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await this.listener?.end().catch(() => undefined);
    this.changes.complete();
  }

  async publish(change: TenantChange): Promise<void> {
    await this.dataSource.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)]);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('error', (error) => {
      this.logger.warn(`tenant change listener lost: ${error.message}`);
      this.onDisconnect(client);
    });
    client.on('end', () => this.onDisconnect(client));
    client.on('notification', (message) => {
      try {
        this.changes.next(JSON.parse(message.payload ?? '') as TenantChange);
      } catch {
        this.changes.next('resync');
      }
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
    this.connected = true;
    // Anything cached before this point may predate a change we never heard about.
    this.changes.next('resync');
  }

  private onDisconnect(client: pg.Client): void {
    if (client !== this.listener || !this.connected) return;
    this.connected = false;
    this.changes.next('resync');
    if (this.closing) return;
    const retry = (): void => {
      if (this.closing) return;
      this.connect().catch((error: Error) => {
        this.logger.warn(`tenant change listener reconnect failed: ${error.message}`);
        setTimeout(retry, RECONNECT_DELAY_MS).unref();
      });
    };
    setTimeout(retry, RECONNECT_DELAY_MS).unref();
  }
}
