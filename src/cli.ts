import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AdminsModule } from './admins/admins.module.js';
import { AdminsService } from './admins/admins.service.js';
import { toAdminUserResponse } from './admins/admins.mapper.js';
import { readPassword } from './admins/password-prompt.js';
import { AppError } from './common/app-error.js';
import { createLogger } from './common/logger.js';
import { loadConfig, type AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { readEnv } from './config/read-env.js';
import { ZodValidationPipe } from './common/zod-validation.pipe.js';
import { DatabaseModule } from './database/database.module.js';
import { EmbeddedPostgres } from './database/embedded-postgres.js';
import { CLI_ACTOR } from './audit/audit-action.js';
import { ApiKeysService } from './tenants/api-keys.service.js';
import { TenantCreateSchema } from './tenants/dto/tenant.dto.js';
import { TenantsModule } from './tenants/tenants.module.js';
import { TenantsService } from './tenants/tenants.service.js';
import { toApiKeyResponse, toTenantResponse } from './tenants/tenants.mapper.js';

const USAGE = `Usage: npm run cli -- <command>
  tenants:create <name> [--rpm N] [--tokens-per-day N] [--max-concurrent N]
  tenants:list
  keys:create <tenant id or name> [--name NAME]
  keys:list <tenant id or name>
  keys:revoke <key id>
  admins:create <email>          password from the prompt, or the first line of piped stdin
  admins:set-password <email>    same; signs the admin out everywhere
  admins:list
  admins:delete <email>
  openapi                        print the OpenAPI document (no database needed)`;

@Module({})
class CliModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: CliModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(databaseUrl),
        TenantsModule,
        AdminsModule,
      ],
    };
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { positional, flags } = parseArgs(rest);
  if (!command || command === 'help' || flags.help !== undefined) {
    console.log(USAGE);
    return;
  }
  if (command === 'openapi') {
    // Defaults, not this machine's environment: the document must not depend on MODE or .env.
    console.log(JSON.stringify(await previewOpenApiDocument(loadConfig({})), null, 2));
    return;
  }
  const config = loadConfig(readEnv());
  const password = ['admins:create', 'admins:set-password'].includes(command)
    ? await readPassword(`Password for ${required(positional[0], 'email')}: `)
    : undefined;
  const logger = createLogger('warn');
  const embedded = config.database.url
    ? undefined
    : await EmbeddedPostgres.start(config.database.dataDir, logger);
  const context = await NestFactory.createApplicationContext(
    CliModule.forRoot(config, config.database.url ?? embedded!.url),
    { logger: ['error'] },
  );
  try {
    const tenants = context.get(TenantsService);
    const keys = context.get(ApiKeysService);
    const admins = context.get(AdminsService);
    const print = (value: unknown): void => console.log(JSON.stringify(value, null, 2));
    switch (command) {
      case 'tenants:create': {
        const limits = {
          ...(flags.rpm && { rpm: Number(flags.rpm) }),
          ...(flags['tokens-per-day'] && { tokens_per_day: Number(flags['tokens-per-day']) }),
          ...(flags['max-concurrent'] && { max_concurrent: Number(flags['max-concurrent']) }),
        };
        const input = new ZodValidationPipe(TenantCreateSchema).transform({
          name: required(positional[0], 'name'),
          limits,
        });
        print(toTenantResponse(await tenants.create(input, CLI_ACTOR)));
        break;
      }
      case 'tenants:list':
        print((await tenants.list()).map(toTenantResponse));
        break;
      case 'keys:create': {
        const { key, secret } = await keys.issue(
          required(positional[0], 'tenant'),
          flags.name ?? 'cli',
          CLI_ACTOR,
        );
        print({ ...toApiKeyResponse(key), key: secret });
        console.error('Store this key now: it is shown only once.');
        break;
      }
      case 'keys:list':
        print(
          (await keys.list((await tenants.resolve(required(positional[0], 'tenant'))).id)).map(
            toApiKeyResponse,
          ),
        );
        break;
      case 'keys:revoke':
        print(toApiKeyResponse(await keys.revoke(required(positional[0], 'key id'), CLI_ACTOR)));
        break;
      case 'admins:create':
        print(toAdminUserResponse(await admins.create(positional[0], password!)));
        break;
      case 'admins:set-password':
        print(toAdminUserResponse(await admins.setPassword(positional[0], password!)));
        break;
      case 'admins:list':
        print((await admins.list()).map(toAdminUserResponse));
        break;
      case 'admins:delete':
        print(toAdminUserResponse(await admins.delete(required(positional[0], 'email'))));
        break;
      default:
        throw new Error(`Unknown command "${command}"\n${USAGE}`);
    }
  } finally {
    await context.close();
    await embedded?.stop();
  }
}

/** The OpenAPI document of the whole app, built without connecting to anything (for admin-ui). */
async function previewOpenApiDocument(config: AppConfig): Promise<unknown> {
  const [{ AppModule }, { FastifyAdapter }, { buildOpenApiDocument }, { VERSION }] =
    await Promise.all([
      import('./app.module.js'),
      import('@nestjs/platform-fastify'),
      import('./openapi/openapi-document.js'),
      import('./health/health.service.js'),
    ]);
  // Preview mode builds the module graph without instantiating providers: no database needed.
  const app = await NestFactory.create(
    AppModule.forRoot(config, 'postgres://preview@127.0.0.1/preview'),
    new FastifyAdapter(),
    { preview: true, logger: false },
  );
  try {
    return buildOpenApiDocument(app, VERSION);
  } finally {
    await app.close();
  }
}

function parseArgs(args: string[]): { positional: string[]; flags: Record<string, string> } {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg.startsWith('--')) flags[arg.slice(2)] = args[++index] ?? '';
    else positional.push(arg);
  }
  return { positional, flags };
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`Missing <${name}>\n${USAGE}`);
  return value;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof AppError || error instanceof Error ? error.message : error);
  process.exit(1);
});
