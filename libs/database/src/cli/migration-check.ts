import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../data-source.options';
import { pendingSchemaChanges } from '../migrator';

/**
 * CI guard: on a scratch database, apply every migration, revert them all, apply them again,
 * then ask TypeORM what SQL would still be needed to match the entities. Any answer means the
 * entities and migrations drifted: run `npm run migration:generate -- migrations/<Name>`.
 */
async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `llmops_drift_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const ds = new DataSource(buildDataSourceOptions({ url: url.toString(), poolMax: 2 }));
  let failed = false;
  try {
    await ds.initialize();
    const applied = await ds.runMigrations({ transaction: 'each' });
    for (let i = 0; i < applied.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    await ds.runMigrations({ transaction: 'each' });
    const pending = await pendingSchemaChanges(ds);
    if (pending.length) {
      failed = true;
      console.error(
        `Entities and migrations differ; missing SQL:\n${pending.map((q) => `  ${q};`).join('\n')}`,
      );
      console.error('Generate a migration: npm run migration:generate -- migrations/<Name>');
    } else {
      console.log(
        `migration check: ${applied.length} migration(s) apply, revert and re-apply; schema matches the entities`,
      );
    }
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  if (failed) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
