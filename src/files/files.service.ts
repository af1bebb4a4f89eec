import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { FilesRepository, type FileWriter, type StoredFile } from './files.repository.js';
import { JsonlLineCounter } from './jsonl-lines.js';

/** One part of a multipart upload, as the controller hands it over. */
export type UploadPart =
  | { type: 'field'; name: string; value: string }
  | { type: 'file'; name: string; filename: string; stream: Readable };

export type FilePurpose = 'batch' | 'batch_output';

export interface FilePage {
  files: StoredFile[];
  hasMore: boolean;
}

// Rows of file_chunks hold about this much, so neither side ever holds a whole file.
const CHUNK_BYTES = 1024 * 1024;
const CLEANUP_INTERVAL_MS = 60_000;
const CLEANUP_BATCH = 100;
// An upload refused part-way has body bytes still in flight: the connection cannot carry another
// request, so it closes after the answer.
const CLOSE_CONNECTION = { connection: 'close' };

/** Tenant-owned files in PostgreSQL, streamed in and out chunk by chunk. */
@Injectable()
export class FilesService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(FilesService.name);
  private cleanupTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: FilesRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.cleanupTimer = setInterval(() => void this.deleteExpired(), CLEANUP_INTERVAL_MS);
    this.cleanupTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.cleanupTimer);
  }

  /**
   * Stores a `purpose=batch` upload. The file part streams straight into the database; past
   * `BATCH_MAX_BYTES` (413) or `BATCH_MAX_LINES` (400) the upload stops and nothing is kept.
   */
  async upload(tenantId: string, parts: AsyncIterable<UploadPart>): Promise<StoredFile> {
    const { maxBytes, maxLines } = this.config.batches;
    const fields = new Map<string, string>();
    let writer: FileWriter | undefined;
    let size = { bytes: 0, lines: 0 };
    try {
      for await (const part of parts) {
        if (part.type === 'field') {
          fields.set(part.name, part.value);
          continue;
        }
        if (part.name !== 'file' || writer) {
          part.stream.resume();
          throw new AppError(ErrorCode.InvalidValue, 'Send exactly one file, in the field "file"', {
            param: part.name,
          });
        }
        writer = await this.files.begin({
          id: `file-${randomBytes(12).toString('hex')}`,
          tenantId,
          filename: part.filename || 'upload.jsonl',
          purpose: 'batch',
          expiresAt: this.expiresAt(),
        });
        const counter = new JsonlLineCounter();
        const pending = new ChunkBuffer();
        try {
          for await (const chunk of part.stream as AsyncIterable<Buffer>) {
            counter.add(chunk);
            if (counter.bytes > maxBytes) {
              throw new AppError(
                ErrorCode.RequestTooLarge,
                `The file is over BATCH_MAX_BYTES (${maxBytes} bytes)`,
                { param: 'file', headers: CLOSE_CONNECTION },
              );
            }
            if (counter.totalLines > maxLines) {
              throw new AppError(
                ErrorCode.InvalidValue,
                `The file has more than BATCH_MAX_LINES (${maxLines}) lines`,
                { param: 'file', headers: CLOSE_CONNECTION },
              );
            }
            const full = pending.add(chunk);
            if (full) await writer.writeChunk(full);
          }
        } catch (error) {
          // The rest of the file is read and dropped (before the parts iterator is closed, which
          // waits for it), so the client gets its answer.
          part.stream.resume();
          throw error;
        }
        const rest = pending.flush();
        if (rest) await writer.writeChunk(rest);
        size = { bytes: counter.bytes, lines: counter.totalLines };
      }
      if (!writer) {
        throw new AppError(ErrorCode.MissingRequiredField, 'file: required', { param: 'file' });
      }
      const purpose = fields.get('purpose');
      if (purpose === undefined) {
        throw new AppError(ErrorCode.MissingRequiredField, 'purpose: required', {
          param: 'purpose',
        });
      }
      if (purpose !== 'batch') {
        throw new AppError(ErrorCode.InvalidValue, 'purpose: only "batch" is supported', {
          param: 'purpose',
        });
      }
      if (size.lines === 0) {
        throw new AppError(ErrorCode.InvalidValue, 'The file has no lines', { param: 'file' });
      }
      return await writer.commit(size);
    } catch (error) {
      await writer?.rollback();
      throw error;
    }
  }

  /** Stores lines written by infq itself (a batch's output and error files). */
  async createFromLines(
    tenantId: string,
    purpose: FilePurpose,
    filename: string,
    lines: AsyncIterable<string>,
  ): Promise<StoredFile> {
    const writer = await this.files.begin({
      id: `file-${randomBytes(12).toString('hex')}`,
      tenantId,
      filename,
      purpose,
      expiresAt: this.expiresAt(),
    });
    try {
      const pending = new ChunkBuffer();
      let bytes = 0;
      let count = 0;
      for await (const line of lines) {
        const data = Buffer.from(`${line}\n`, 'utf8');
        bytes += data.length;
        count++;
        const full = pending.add(data);
        if (full) await writer.writeChunk(full);
      }
      const rest = pending.flush();
      if (rest) await writer.writeChunk(rest);
      return await writer.commit({ bytes, lines: count });
    } catch (error) {
      await writer.rollback();
      throw error;
    }
  }

  async get(tenantId: string, id: string): Promise<StoredFile> {
    const file = await this.files.findOwned(tenantId, id);
    if (!file) throw fileNotFound(id);
    return file;
  }

  /** A file by id whoever owns it (admin dashboard). */
  async getAny(id: string): Promise<StoredFile> {
    const file = await this.files.findById(id);
    if (!file) throw fileNotFound(id);
    return file;
  }

  async list(
    tenantId: string,
    query: { after?: string; limit: number; order: 'asc' | 'desc'; purpose?: string },
  ): Promise<FilePage> {
    const rows = await this.files.list({ tenantId, ...query, limit: query.limit + 1 });
    return { files: rows.slice(0, query.limit), hasMore: rows.length > query.limit };
  }

  /** The file's bytes, streamed from the database. */
  content(file: StoredFile): AsyncGenerator<Buffer> {
    return this.files.readChunks(file.id);
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.files.delete(tenantId, id))) throw fileNotFound(id);
  }

  /** Deletes files past `FILE_TTL_S`; run on a timer by every instance (deletes are idempotent). */
  async deleteExpired(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.files.deleteExpired(CLEANUP_BATCH);
        total += deleted;
        if (deleted < CLEANUP_BATCH) return total;
      }
    } catch (error) {
      this.logger.warn(`file clean-up failed: ${(error as Error).message}`);
      return total;
    }
  }

  private expiresAt(): Date {
    return new Date(Date.now() + this.config.batches.fileTtlS * 1000);
  }
}

/** Gathers small buffers into rows of about `CHUNK_BYTES`. */
class ChunkBuffer {
  private parts: Buffer[] = [];
  private size = 0;

  /** Adds `data`; returns a full chunk to write once there is one. */
  add(data: Buffer): Buffer | null {
    this.parts.push(data);
    this.size += data.length;
    return this.size >= CHUNK_BYTES ? this.flush() : null;
  }

  flush(): Buffer | null {
    if (this.size === 0) return null;
    const chunk = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    return chunk;
  }
}

const fileNotFound = (id: string) => new AppError(ErrorCode.FileNotFound, `No file ${id}`);
