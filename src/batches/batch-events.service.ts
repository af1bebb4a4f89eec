import { Injectable, Logger } from '@nestjs/common';
import type { BatchResponseDto } from './dto/batch.dto.js';

/** The webhook event types of a batch reaching a final status, as OpenAI names them. */
export type BatchEventType =
  'batch.completed' | 'batch.failed' | 'batch.expired' | 'batch.cancelled';

export interface BatchFinalEvent {
  type: BatchEventType;
  tenantId: string;
  /** The batch object as `GET /v1/batches/:id` shows it. */
  batch: BatchResponseDto;
}

export type BatchFinalListener = (event: BatchFinalEvent) => Promise<void> | void;

/**
 * In-process fan-out of batches reaching a final status (for webhooks). Published once by the
 * instance that ended the batch; a crash right then can lose it, so listeners that must not
 * miss one also read the batch list.
 */
@Injectable()
export class BatchEvents {
  private readonly logger = new Logger(BatchEvents.name);
  private readonly listeners = new Set<BatchFinalListener>();

  /** Subscribes `listener`; returns the unsubscribe function. */
  onBatchFinal(listener: BatchFinalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(event: BatchFinalEvent): Promise<void> {
    await Promise.all(
      [...this.listeners].map(async (listener) => {
        try {
          await listener(event);
        } catch (error) {
          this.logger.warn(`batch final listener failed: ${(error as Error).message}`);
        }
      }),
    );
  }
}
