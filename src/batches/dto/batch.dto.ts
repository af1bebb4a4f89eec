import { z } from 'zod';

const metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((value) => Object.keys(value).length <= 16, 'at most 16 keys');

/** `POST /v1/batches`. */
export const BatchCreateSchema = z.strictObject({
  input_file_id: z.string().min(1),
  endpoint: z.literal('/v1/chat/completions'),
  completion_window: z.literal('24h'),
  metadata: metadata.nullable().optional(),
});
export type BatchCreateDto = z.infer<typeof BatchCreateSchema>;

const timestamp = z.number().int().nullable().describe('unix seconds');

/** The batch object, as OpenAI's Batch API defines it. */
export const BatchResponseSchema = z.object({
  id: z.string(),
  object: z.literal('batch'),
  endpoint: z.string(),
  errors: z
    .object({
      object: z.literal('list'),
      data: z.array(
        z.object({
          code: z.string(),
          message: z.string(),
          param: z.string().nullable(),
          line: z.number().int().nullable(),
        }),
      ),
    })
    .nullable(),
  input_file_id: z.string(),
  completion_window: z.string(),
  status: z.enum([
    'validating',
    'failed',
    'in_progress',
    'finalizing',
    'completed',
    'expired',
    'cancelling',
    'cancelled',
  ]),
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  created_at: z.number().int(),
  in_progress_at: timestamp,
  expires_at: timestamp,
  finalizing_at: timestamp,
  completed_at: timestamp,
  failed_at: timestamp,
  expired_at: timestamp,
  cancelling_at: timestamp,
  cancelled_at: timestamp,
  request_counts: z.object({
    total: z.number().int(),
    completed: z.number().int(),
    failed: z.number().int(),
  }),
  metadata: z.record(z.string(), z.string()).nullable(),
  model: z.string().nullable(),
});
export type BatchResponseDto = z.infer<typeof BatchResponseSchema>;

export const BatchListSchema = z.object({
  object: z.literal('list'),
  data: z.array(BatchResponseSchema),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});
export type BatchListDto = z.infer<typeof BatchListSchema>;

/** A batch in the admin API: the batch object and its tenant. */
export const AdminBatchSchema = BatchResponseSchema.extend({ tenant_id: z.uuid() });
export const AdminBatchListSchema = z.object({
  object: z.literal('list'),
  data: z.array(AdminBatchSchema),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});
export type AdminBatchListDto = z.infer<typeof AdminBatchListSchema>;
