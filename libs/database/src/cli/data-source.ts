import 'reflect-metadata';
import { loadDotEnv, parseEnv } from '@app/config';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../data-source.options';
import { openPglite } from '../pglite';

/**
 * The DataSource of TypeORM's CLI (`npm run migration:generate|run|revert`): DATABASE_URL when
 * set, else the embedded database under STORAGE_DIR/db (the app must not be running then).
 */
async function create(): Promise<DataSource> {
  loadDotEnv();
  const env = parseEnv();
  if (env.DATABASE_URL) return new DataSource(buildDataSourceOptions({ url: env.DATABASE_URL }));
  const pglite = await openPglite(path.join(path.resolve(env.STORAGE_DIR), 'db'));
  return new DataSource(buildDataSourceOptions({ pglite }));
}

export default create();
