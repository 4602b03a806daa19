import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
// Jest's globalSetup runs outside the module mapper, so path aliases do not resolve here.
// eslint-disable-next-line no-restricted-imports
import { MIGRATION_GLOBS } from '../../libs/database/src/data-source.options';
import {
  ADMIN_DATABASE_URL,
  databaseUrl,
  templateDatabaseName,
  workerDatabaseName,
} from '../support/test-env';

/**
 * Migrates one template database, then clones it once per jest worker, so every worker has its
 * own database and migrations run once per test run.
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  const run = randomBytes(4).toString('hex');
  process.env.LLMOPS_TEST_RUN_ID = run;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    const tpl = templateDatabaseName(run);
    await admin.query(`CREATE DATABASE ${tpl}`);
    const ds = new DataSource({
      type: 'postgres',
      url: databaseUrl(tpl),
      migrations: MIGRATION_GLOBS,
    });
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    await ds.destroy();
    const workers = Math.max(1, globalConfig.maxWorkers);
    for (let w = 1; w <= workers; w++) {
      await admin.query(`CREATE DATABASE ${workerDatabaseName(run, w)} TEMPLATE ${tpl}`);
    }
  } finally {
    await admin.end();
  }
}
