import { Module, type DynamicModule } from '@nestjs/common';
import { runsApi, type AppConfig } from '../config/app-config.js';
import { FilesController } from './files.controller.js';
import { FilesRepository } from './files.repository.js';
import { FilesService } from './files.service.js';

/** Tenant-owned files (batch input and output) stored in PostgreSQL. */
@Module({})
export class FilesModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: FilesModule,
      controllers: runsApi(config) ? [FilesController] : [],
      providers: [FilesRepository, FilesService],
      exports: [FilesService],
    };
  }
}
