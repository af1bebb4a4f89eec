import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/app-config.js';
import { readEnv } from './src/config/read-env.js';
import { buildDataSourceOptions } from './src/database/data-source-options.js';

// For the TypeORM CLI (migration:generate, migration:revert); the app applies migrations itself.
const config = loadConfig(readEnv());
if (!config.database.url) throw new Error('Set DATABASE_URL to use the TypeORM CLI');

export default new DataSource(buildDataSourceOptions(config.database.url));
