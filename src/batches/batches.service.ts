import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { FilesService } from '../files/files.service.js';
import { BatchRunner } from './batch-runner.service.js';
import { BatchesRepository, type StoredBatch } from './batches.repository.js';
import type { BatchCreateDto } from './dto/batch.dto.js';

export interface BatchPage {
  batches: StoredBatch[];
  hasMore: boolean;
}

/** Creates, reads and cancels batches; the runner does the work. */
@Injectable()
export class BatchesService {
  constructor(
    private readonly batches: BatchesRepository,
    private readonly files: FilesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Only worker processes run batches; an API-only process leaves them to the workers' timers.
    @Optional() private readonly runner?: BatchRunner,
  ) {}

  async create(tenantId: string, dto: BatchCreateDto): Promise<StoredBatch> {
    const file = await this.files.get(tenantId, dto.input_file_id).catch(() => {
      throw new AppError(ErrorCode.FileNotFound, `No file ${dto.input_file_id}`, {
        param: 'input_file_id',
      });
    });
    if (file.purpose !== 'batch') {
      throw new AppError(ErrorCode.InvalidValue, `File ${file.id} is not a batch input file`, {
        param: 'input_file_id',
      });
    }
    const now = Date.now();
    const batch = await this.batches.create({
      id: `batch_${randomBytes(12).toString('hex')}`,
      tenantId,
      inputFileId: file.id,
      endpoint: dto.endpoint,
      completionWindow: dto.completion_window,
      metadata: dto.metadata ?? null,
      expiresAt: new Date(now + this.config.batches.windowS * 1000),
      retainUntil: new Date(now + this.config.batches.fileTtlS * 1000),
    });
    this.runner?.kick();
    return batch;
  }

  async get(tenantId: string, id: string): Promise<StoredBatch> {
    const batch = await this.batches.findById(id);
    if (!batch || batch.tenantId !== tenantId) throw batchNotFound(id);
    return batch;
  }

  /** Any tenant's batch (admin). */
  async getAny(id: string): Promise<StoredBatch> {
    const batch = await this.batches.findById(id);
    if (!batch) throw batchNotFound(id);
    return batch;
  }

  async list(query: { tenantId?: string; after?: string; limit: number }): Promise<BatchPage> {
    const rows = await this.batches.list({ ...query, limit: query.limit + 1 });
    return { batches: rows.slice(0, query.limit), hasMore: rows.length > query.limit };
  }

  /**
   * Stops a batch: lines not yet started are cancelled, running ones finish, and the batch ends
   * `cancelled` with what finished. Cancelling a cancelled or cancelling batch changes nothing.
   */
  async cancel(tenantId: string | null, id: string): Promise<StoredBatch> {
    const batch = tenantId === null ? await this.getAny(id) : await this.get(tenantId, id);
    if (batch.status === 'cancelling' || batch.status === 'cancelled') return batch;
    const moved = await this.batches.transition(id, ['validating', 'in_progress'], 'cancelling');
    if (moved) {
      this.runner?.kick();
      return moved;
    }
    const now = await this.getAny(id);
    if (now.status === 'cancelling' || now.status === 'cancelled') return now;
    throw new AppError(ErrorCode.Conflict, `Batch ${id} is ${now.status} and cannot be cancelled`);
  }
}

const batchNotFound = (id: string) => new AppError(ErrorCode.BatchNotFound, `No batch ${id}`);
