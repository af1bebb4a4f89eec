import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { WebhookDelivery } from './webhook-delivery.entity.js';

export interface NewWebhookDelivery {
  endpointId: string;
  eventId: string;
  eventType: string;
  payload: string;
}

@Injectable()
export class WebhookDeliveriesRepository {
  constructor(
    @InjectRepository(WebhookDelivery) private readonly deliveries: Repository<WebhookDelivery>,
  ) {}

  /** Records the delivery once per (endpoint, event); returns the record as it stands. */
  async insertOnce(input: NewWebhookDelivery): Promise<WebhookDelivery> {
    await this.deliveries.createQueryBuilder().insert().values(input).orIgnore().execute();
    return this.deliveries.findOneByOrFail({
      endpointId: input.endpointId,
      eventId: input.eventId,
    });
  }

  findById(id: string): Promise<WebhookDelivery | null> {
    return this.deliveries.findOneBy({ id });
  }

  /** The endpoint's deliveries, newest first. */
  findRecent(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    return this.deliveries.find({
      where: { endpointId },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit,
    });
  }

  async recordAttempt(
    id: string,
    changes: Pick<
      WebhookDelivery,
      'status' | 'attempts' | 'lastResponseCode' | 'lastError' | 'nextAttemptAt'
    >,
  ): Promise<void> {
    await this.deliveries.update({ id }, changes);
  }

  /**
   * Makes a finished delivery pending again with a fresh 24 h window; null when it is still
   * pending (its own retries are under way).
   */
  async reopen(id: string): Promise<WebhookDelivery | null> {
    const result = await this.deliveries
      .createQueryBuilder()
      .update()
      .set({
        status: 'pending',
        redeliveries: () => 'redeliveries + 1',
        windowStartedAt: () => 'now()',
        nextAttemptAt: null,
      })
      .where('id = :id AND status <> :pending', { id, pending: 'pending' })
      .execute();
    return (result.affected ?? 0) > 0 ? this.findById(id) : null;
  }
}
