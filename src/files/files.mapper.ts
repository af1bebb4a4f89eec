import type { FileResponseDto } from './dto/file.dto.js';
import type { StoredFile } from './files.repository.js';

export function toFileResponse(file: StoredFile): FileResponseDto {
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes,
    created_at: seconds(file.createdAt),
    expires_at: seconds(file.expiresAt),
    filename: file.filename,
    purpose: file.purpose === 'batch_output' ? 'batch_output' : 'batch',
    status: 'processed',
    status_details: null,
  };
}

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);
