import { Injectable, type PipeTransform } from '@nestjs/common';
import type { ApiBody } from '@nestjs/swagger';
import { z } from 'zod';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';

/** Validates a body against a zod schema; the first problem becomes a 400 naming its field. */
@Injectable()
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    const parsed = this.schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const param = issue.path.join('.') || null;
    const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
    const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : undefined;
    throw new AppError(
      missing ? ErrorCode.MissingRequiredField : ErrorCode.InvalidValue,
      unknownKeys
        ? `Unknown field(s): ${unknownKeys}`
        : `${param ?? 'body'}: ${missing ? 'required' : issue.message}`,
      { param: unknownKeys ?? param ?? undefined },
    );
  }
}

type SchemaObject = NonNullable<
  Extract<Parameters<typeof ApiBody>[0], { schema?: unknown }>['schema']
>;

/** The OpenAPI schema of a zod schema, for `@ApiBody`. */
export const openApiSchema = (schema: z.ZodType): SchemaObject =>
  z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as SchemaObject;

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
