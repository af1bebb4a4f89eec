import { Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminAccess } from '../auth/access.decorator.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import { sendFileContent } from '../files/file-content-reply.js';
import { FilesService } from '../files/files.service.js';
import { parseListLimit } from '../files/list-query.js';
import { toBatchResponse } from './batches.mapper.js';
import { BatchesService } from './batches.service.js';
import { AdminBatchListSchema, AdminBatchSchema, type AdminBatchListDto } from './dto/batch.dto.js';
import type { StoredBatch } from './batches.repository.js';

@ApiTags('admin: batches')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api')
export class BatchesAdminController {
  constructor(
    private readonly batches: BatchesService,
    private readonly files: FilesService,
  ) {}

  @Get('batches')
  @ApiOperation({ summary: 'Batches, newest first, of one tenant or all' })
  @ApiQuery({ name: 'tenant', required: false })
  @ApiQuery({ name: 'after', required: false })
  @ApiQuery({ name: 'limit', required: false, example: 50 })
  @ApiOkResponse({ schema: openApiSchema(AdminBatchListSchema) })
  async list(
    @Query('tenant') tenant?: string,
    @Query('after') after?: string,
    @Query('limit') limit?: string,
  ): Promise<AdminBatchListDto> {
    const page = await this.batches.list({
      tenantId: tenant || undefined,
      after: after || undefined,
      limit: parseListLimit(limit, 50, 100),
    });
    const data = page.batches.map(toAdminBatch);
    return {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: page.hasMore,
    };
  }

  @Post('batches/:id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: "Cancel a tenant's batch" })
  @ApiOkResponse({ schema: openApiSchema(AdminBatchSchema) })
  async cancel(@Param('id') id: string) {
    return toAdminBatch(await this.batches.cancel(null, id));
  }

  @Get('files/:id/content')
  @ApiOperation({ summary: "A tenant's file (e.g. a batch's output), streamed" })
  @ApiProduces('application/octet-stream')
  async content(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const file = await this.files.getAny(id);
    await sendFileContent(
      reply.header('content-disposition', `attachment; filename="${file.filename}"`),
      file.bytes,
      this.files.content(file),
    );
  }
}

const toAdminBatch = (batch: StoredBatch) => ({
  ...toBatchResponse(batch),
  tenant_id: batch.tenantId,
});
