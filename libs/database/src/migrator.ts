import { Logger } from '@nestjs/common';
import type { DataSource, Migration } from 'typeorm';

/** Advisory lock key: several api replicas booting at once migrate one at a time. */
const MIGRATION_LOCK_KEY = 748_213_901;

/**
 * Runs pending migrations, each in its own transaction. On a Postgres server the work is held
 * under a session advisory lock; PGlite is single-process by construction and has one
 * connection, so it needs (and could not hold) none.
 */
export async function runMigrations(
  dataSource: DataSource,
  opts: { useLock: boolean },
): Promise<Migration[]> {
  const logger = new Logger('Migrator');
  const runner = opts.useLock ? dataSource.createQueryRunner() : undefined;
  try {
    if (runner) {
      await runner.connect();
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    const done = await dataSource.runMigrations({ transaction: 'each' });
    if (done.length)
      logger.log(`Applied ${done.length} migration(s): ${done.map((m) => m.name).join(', ')}`);
    return done;
  } finally {
    if (runner) {
      await runner
        .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
        .catch(() => undefined);
      await runner.release();
    }
  }
}

/** SQL that would bring the schema in line with the entities; empty when they agree. */
export async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return log.upQueries.map((q) => q.query);
}
