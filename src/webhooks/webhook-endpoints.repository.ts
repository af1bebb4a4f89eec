import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { TransactionHook } from '../database/transaction-hook.js';
import { WebhookEndpoint } from './webhook-endpoint.entity.js';

export interface WebhookEndpointChanges {
  url?: string;
  events?: string[];
  enabled?: boolean;
  secret?: string;
  previousSecret?: string | null;
  previousSecretExpiresAt?: Date | null;
}

@Injectable()
export class WebhookEndpointsRepository {
  constructor(
    @InjectRepository(WebhookEndpoint) private readonly endpoints: Repository<WebhookEndpoint>,
  ) {}

  /** Inserts an endpoint; `within` runs in the same transaction (the audit record). */
  create(
    input: { tenantId: string; url: string; events: string[]; enabled: boolean; secret: string },
    within?: TransactionHook<WebhookEndpoint>,
  ): Promise<WebhookEndpoint> {
    return this.endpoints.manager.transaction(async (manager) => {
      const endpoint = await manager.save(manager.create(WebhookEndpoint, input));
      await within?.(manager, endpoint);
      return endpoint;
    });
  }

  findById(id: string): Promise<WebhookEndpoint | null> {
    return this.endpoints.findOneBy({ id });
  }

  findByTenant(tenantId: string): Promise<WebhookEndpoint[]> {
    return this.endpoints.find({ where: { tenantId }, order: { createdAt: 'ASC' } });
  }

  /** Applies `changes`; `within` runs in the same transaction when the endpoint exists. */
  update(
    id: string,
    changes: WebhookEndpointChanges,
    within?: TransactionHook<WebhookEndpoint>,
  ): Promise<WebhookEndpoint | null> {
    return this.endpoints.manager.transaction(async (manager) => {
      if (Object.keys(changes).length > 0) await manager.update(WebhookEndpoint, { id }, changes);
      const endpoint = await manager.findOneBy(WebhookEndpoint, { id });
      if (endpoint) await within?.(manager, endpoint);
      return endpoint;
    });
  }

  /** Deletes an endpoint; `within` runs in the same transaction when it existed. */
  delete(id: string, within?: TransactionHook<WebhookEndpoint>): Promise<boolean> {
    return this.endpoints.manager.transaction(async (manager) => {
      const endpoint = await manager.findOneBy(WebhookEndpoint, { id });
      if (!endpoint) return false;
      await manager.delete(WebhookEndpoint, { id });
      await within?.(manager, endpoint);
      return true;
    });
  }
}
