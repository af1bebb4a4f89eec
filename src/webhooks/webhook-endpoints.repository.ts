import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
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

  create(input: {
    tenantId: string;
    url: string;
    events: string[];
    enabled: boolean;
    secret: string;
  }): Promise<WebhookEndpoint> {
    return this.endpoints.save(this.endpoints.create(input));
  }

  findById(id: string): Promise<WebhookEndpoint | null> {
    return this.endpoints.findOneBy({ id });
  }

  findByTenant(tenantId: string): Promise<WebhookEndpoint[]> {
    return this.endpoints.find({ where: { tenantId }, order: { createdAt: 'ASC' } });
  }

  async update(id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpoint | null> {
    if (Object.keys(changes).length > 0) await this.endpoints.update({ id }, changes);
    return this.findById(id);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.endpoints.delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
