import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { AdminSession } from './admin-session.entity.js';
import { AdminSessionController } from './admin-session.controller.js';
import { AdminSessionsRepository } from './admin-sessions.repository.js';
import { AdminSessionsService } from './admin-sessions.service.js';
import { AdminUser } from './admin-user.entity.js';
import { AdminUsersRepository } from './admin-users.repository.js';
import { AdminsService } from './admins.service.js';
import { SignInThrottleRepository } from './sign-in-throttle.repository.js';

/** Dashboard admin accounts and their sessions. */
@Module({
  imports: [TypeOrmModule.forFeature([AdminUser, AdminSession]), AuditModule],
  controllers: [AdminSessionController],
  providers: [
    AdminUsersRepository,
    AdminSessionsRepository,
    SignInThrottleRepository,
    AdminsService,
    AdminSessionsService,
  ],
  exports: [AdminsService, AdminSessionsService],
})
export class AdminsModule {}
