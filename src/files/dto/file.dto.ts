import { z } from 'zod';

/** The file object, as OpenAI's Files API defines it. */
export const FileResponseSchema = z.object({
  id: z.string(),
  object: z.literal('file'),
  bytes: z.number().int(),
  created_at: z.number().int().describe('unix seconds'),
  expires_at: z.number().int().describe('unix seconds; the file is deleted then (FILE_TTL_S)'),
  filename: z.string(),
  purpose: z.enum(['batch', 'batch_output']),
  status: z.literal('processed'),
  status_details: z.null(),
});
export type FileResponseDto = z.infer<typeof FileResponseSchema>;

export const FileListSchema = z.object({
  object: z.literal('list'),
  data: z.array(FileResponseSchema),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});
export type FileListDto = z.infer<typeof FileListSchema>;

export const FileDeletedSchema = z.object({
  id: z.string(),
  object: z.literal('file'),
  deleted: z.literal(true),
});
