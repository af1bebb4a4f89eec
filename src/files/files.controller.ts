import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TenantAccess } from '../auth/access.decorator.js';
import { CurrentTenant, type TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import {
  FileDeletedSchema,
  FileListSchema,
  FileResponseSchema,
  type FileListDto,
  type FileResponseDto,
} from './dto/file.dto.js';
import { sendFileContent } from './file-content-reply.js';
import { toFileResponse } from './files.mapper.js';
import { FilesService, type UploadPart } from './files.service.js';
import { parseListLimit, parseListOrder } from './list-query.js';

@ApiTags('files')
@ApiSecurity('bearer')
@ApiSecurity('x-api-key')
@TenantAccess()
@Controller('v1/files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Upload a JSONL batch input file (multipart, purpose=batch)' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file', 'purpose'],
      properties: {
        file: { type: 'string', format: 'binary' },
        purpose: { type: 'string', enum: ['batch'] },
      },
    },
  })
  @ApiOkResponse({ schema: openApiSchema(FileResponseSchema) })
  async upload(
    @Req() request: FastifyRequest,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<FileResponseDto> {
    if (!request.isMultipart()) {
      throw new AppError(ErrorCode.UnsupportedMediaType, 'Upload files as multipart/form-data');
    }
    return toFileResponse(await this.files.upload(tenant.tenantId, uploadParts(request)));
  }

  @Get()
  @ApiOperation({ summary: "The tenant's files, newest first (cursor pagination with `after`)" })
  @ApiQuery({ name: 'after', required: false })
  @ApiQuery({ name: 'limit', required: false, example: 100 })
  @ApiQuery({ name: 'order', required: false, enum: ['asc', 'desc'] })
  @ApiQuery({ name: 'purpose', required: false })
  @ApiOkResponse({ schema: openApiSchema(FileListSchema) })
  async list(
    @CurrentTenant() tenant: TenantPrincipal,
    @Query('after') after?: string,
    @Query('limit') limit?: string,
    @Query('order') order?: string,
    @Query('purpose') purpose?: string,
  ): Promise<FileListDto> {
    const page = await this.files.list(tenant.tenantId, {
      after: after || undefined,
      limit: parseListLimit(limit, 10_000, 10_000),
      order: parseListOrder(order),
      purpose: purpose || undefined,
    });
    const data = page.files.map(toFileResponse);
    return {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: page.hasMore,
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One file' })
  @ApiOkResponse({ schema: openApiSchema(FileResponseSchema) })
  async get(
    @Param('id') id: string,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<FileResponseDto> {
    return toFileResponse(await this.files.get(tenant.tenantId, id));
  }

  @Get(':id/content')
  @ApiOperation({ summary: "The file's bytes, streamed" })
  @ApiProduces('application/octet-stream')
  async content(
    @Param('id') id: string,
    @CurrentTenant() tenant: TenantPrincipal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const file = await this.files.get(tenant.tenantId, id);
    await sendFileContent(reply, file.bytes, this.files.content(file));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a file' })
  @ApiOkResponse({ schema: openApiSchema(FileDeletedSchema) })
  async delete(
    @Param('id') id: string,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<{ id: string; object: 'file'; deleted: true }> {
    await this.files.delete(tenant.tenantId, id);
    return { id, object: 'file', deleted: true };
  }
}

async function* uploadParts(request: FastifyRequest): AsyncGenerator<UploadPart> {
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      yield { type: 'field', name: part.fieldname, value: String(part.value) };
    } else {
      yield { type: 'file', name: part.fieldname, filename: part.filename, stream: part.file };
    }
  }
}
