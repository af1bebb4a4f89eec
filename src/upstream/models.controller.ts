import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { TenantAccess } from '../auth/access.decorator.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { ModelListSchema, type ModelListDto } from './dto/model.dto.js';
import { ModelCatalogService } from './model-catalog.service.js';

const INCLUDE_VALUES = ['pistachio'] as const;

@ApiTags('models')
@ApiSecurity('bearer')
@ApiSecurity('x-api-key')
@TenantAccess()
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly catalog: ModelCatalogService) {}

  @Get()
  @ApiOperation({
    summary: 'Models served by at least one healthy Inference Bus node',
    description:
      'From a cache refreshed in the background; never waits on a backend. ' +
      "`include=pistachio` adds Pistachio's models as `pistachio/<id>`.",
  })
  @ApiQuery({ name: 'include', required: false, enum: INCLUDE_VALUES })
  @ApiOkResponse({ schema: openApiSchema(ModelListSchema) })
  list(@Query('include') include?: string | string[]): ModelListDto {
    const included = parseInclude(include);
    return {
      object: 'list',
      data: this.catalog.list({ includePistachio: included.has('pistachio') }),
    };
  }
}

/** `include` as a set: comma-separated and/or repeated values, each one of `INCLUDE_VALUES`. */
function parseInclude(raw: string | string[] | undefined): Set<string> {
  const values = (Array.isArray(raw) ? raw : [raw ?? ''])
    .flatMap((value) => String(value).split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  for (const value of values) {
    if (!(INCLUDE_VALUES as readonly string[]).includes(value)) {
      throw new AppError(
        ErrorCode.InvalidValue,
        `include: unknown value '${value.slice(0, 100)}'; allowed: ${INCLUDE_VALUES.join(', ')}`,
        { param: 'include' },
      );
    }
  }
  return new Set(values);
}
