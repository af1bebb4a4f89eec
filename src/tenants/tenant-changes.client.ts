import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Subject } from 'rxjs';
import { ClusterNotifications, NOTIFICATION_CHANNELS } from '../database/cluster-notifications.js';

/** The PostgreSQL channel tenant and key changes travel on. */
export const TENANT_CHANGES_CHANNEL = NOTIFICATION_CHANNELS.tenantChanges;

/** What changed; listeners drop whatever they derived from it. */
export type TenantChange =
  | { kind: 'tenant'; tenantId: string }
  | { kind: 'key'; keyId: string }
  /** A new key: its hash joins every instance's set of keys worth a database lookup. */
  | { kind: 'key_issued'; keyId: string; keyHash: string };

/**
 * Broadcasts tenant and key changes to every instance, so caches of keys and limits are dropped
 * within milliseconds everywhere (see `ClusterNotifications` for how a lost connection is
 * noticed within a second).
 */
@Injectable()
export class TenantChangesClient implements OnModuleDestroy {
  private readonly changes = new Subject<TenantChange | 'resync'>();
  private readonly unsubscribe: () => void;

  /** Emits each change, and `'resync'` whenever changes may have been missed. */
  readonly changes$ = this.changes.asObservable();

  constructor(private readonly notifications: ClusterNotifications) {
    this.unsubscribe = notifications.subscribe(TENANT_CHANGES_CHANNEL, {
      message: (payload) => this.changes.next(parseChange(payload)),
      resync: () => this.changes.next('resync'),
    });
  }

  /** True while changes are being heard moments ago: caches may be trusted. */
  get isListening(): boolean {
    return this.notifications.isListening;
  }

  /** Connected, though perhaps not heard from lately (see `isListening`). */
  get isConnected(): boolean {
    return this.notifications.isConnected;
  }

  /** True once every change committed before this call has been heard; false if not listening. */
  caughtUp(): Promise<boolean> {
    return this.notifications.caughtUp();
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    this.changes.complete();
  }

  async publish(change: TenantChange): Promise<void> {
    await this.notifications.publish(TENANT_CHANGES_CHANNEL, JSON.stringify(change));
  }
}

/** A payload no instance of this version sent reads as "something changed": drop everything. */
function parseChange(payload: string): TenantChange | 'resync' {
  try {
    return JSON.parse(payload) as TenantChange;
  } catch {
    return 'resync';
  }
}
