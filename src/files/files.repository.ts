import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** A stored file's metadata (its bytes live in `file_chunks`). */
export interface StoredFile {
  id: string;
  tenantId: string;
  filename: string;
  purpose: string;
  bytes: number;
  lines: number;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewFile {
  id: string;
  tenantId: string;
  filename: string;
  purpose: string;
  expiresAt: Date;
}

export interface FileListQuery {
  tenantId: string;
  purpose?: string;
  after?: string;
  limit: number;
  order: 'asc' | 'desc';
}

/** Writes one file's chunks inside a transaction: nothing is visible until `commit`. */
export interface FileWriter {
  writeChunk(data: Buffer): Promise<void>;
  commit(size: { bytes: number; lines: number }): Promise<StoredFile>;
  rollback(): Promise<void>;
}

interface FileRow {
  id: string;
  tenant_id: string;
  filename: string;
  purpose: string;
  bytes: string;
  lines: number;
  created_at: Date;
  expires_at: Date;
}

const COLUMNS = 'id, tenant_id, filename, purpose, bytes, lines, created_at, expires_at';

@Injectable()
export class FilesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Starts a file; its row and chunks appear atomically on `commit`. */
  async begin(file: NewFile): Promise<FileWriter> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    let seq = 0;
    let done = false;
    const finish = async (action: () => Promise<void>): Promise<void> => {
      if (done) return;
      done = true;
      try {
        await action();
      } finally {
        await runner.release();
      }
    };
    try {
      await runner.query(
        `INSERT INTO files (id, tenant_id, filename, purpose, expires_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [file.id, file.tenantId, file.filename, file.purpose, file.expiresAt],
      );
    } catch (error) {
      await finish(() => runner.rollbackTransaction());
      throw error;
    }
    return {
      writeChunk: async (data) => {
        await runner.query(`INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)`, [
          file.id,
          seq++,
          data,
        ]);
      },
      commit: async ({ bytes, lines }) => {
        let row: FileRow | undefined;
        await finish(async () => {
          const [rows] = (await runner.query(
            `UPDATE files SET bytes = $2, lines = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
            [file.id, bytes, lines],
          )) as [FileRow[], number];
          row = rows[0];
          await runner.commitTransaction();
        });
        return toStoredFile(row!);
      },
      rollback: () => finish(() => runner.rollbackTransaction()),
    };
  }

  async findOwned(tenantId: string, id: string): Promise<StoredFile | null> {
    const rows = await this.dataSource.query<FileRow[]>(
      `SELECT ${COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2 AND expires_at > now()`,
      [id, tenantId],
    );
    return rows[0] ? toStoredFile(rows[0]) : null;
  }

  async findById(id: string): Promise<StoredFile | null> {
    const rows = await this.dataSource.query<FileRow[]>(
      `SELECT ${COLUMNS} FROM files WHERE id = $1 AND expires_at > now()`,
      [id],
    );
    return rows[0] ? toStoredFile(rows[0]) : null;
  }

  /** One page, ordered by creation time then id; `after` is the last id of the previous page. */
  async list(query: FileListQuery): Promise<StoredFile[]> {
    const params: unknown[] = [query.tenantId, query.limit];
    const where = ['tenant_id = $1', 'expires_at > now()'];
    if (query.purpose) {
      params.push(query.purpose);
      where.push(`purpose = $${params.length}`);
    }
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    if (query.after) {
      params.push(query.after);
      const cursor = `(SELECT created_at, id FROM files WHERE id = $${params.length} AND tenant_id = $1)`;
      where.push(`(created_at, id) ${query.order === 'asc' ? '>' : '<'} ${cursor}`);
    }
    const rows = await this.dataSource.query<FileRow[]>(
      `SELECT ${COLUMNS} FROM files WHERE ${where.join(' AND ')}
       ORDER BY created_at ${direction}, id ${direction} LIMIT $2`,
      params,
    );
    return rows.map(toStoredFile);
  }

  /** The file's bytes, chunk by chunk, reading a few chunks at a time. */
  async *readChunks(fileId: string): AsyncGenerator<Buffer> {
    const pageSize = 4;
    for (let from = 0; ; from += pageSize) {
      const rows = await this.dataSource.query<{ data: Buffer }[]>(
        `SELECT data FROM file_chunks WHERE file_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`,
        [fileId, from, from + pageSize],
      );
      for (const row of rows) yield row.data;
      if (rows.length < pageSize) return;
    }
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const [, count] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM files WHERE id = $1 AND tenant_id = $2`,
      [id, tenantId],
    );
    return count > 0;
  }

  /** Deletes up to `limit` files past their retention; returns how many went. */
  async deleteExpired(limit: number): Promise<number> {
    const [, count] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM files WHERE id IN (
         SELECT id FROM files WHERE expires_at <= now() ORDER BY expires_at LIMIT $1)`,
      [limit],
    );
    return count;
  }
}

function toStoredFile(row: FileRow): StoredFile {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    filename: row.filename,
    purpose: row.purpose,
    bytes: Number(row.bytes),
    lines: row.lines,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}
