import { AppConfig } from '@app/config';
import { Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import * as path from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options';
import { runMigrations } from './migrator';
import { openPglite } from './pglite';
import { TransactionService } from './transaction.service';

/** Carries the config from useFactory (which has DI) to dataSourceFactory (which has not). */
const BOOT_CONFIG = Symbol('llmops.database.config');

/**
 * TypeORM on PostgreSQL (DATABASE_URL) or on PGlite under STORAGE_DIR/db. Entities are registered
 * by each module with TypeOrmModule.forFeature (autoLoadEntities). The api role migrates at boot.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...buildDataSourceOptions({
          url: config.env.DATABASE_URL ?? 'postgres://embedded/pglite', // replaced below for PGlite
          poolMax: config.env.DATABASE_POOL_MAX,
          statementTimeoutMs: config.env.DATABASE_STATEMENT_TIMEOUT_MS,
          entities: [],
        }),
        autoLoadEntities: true,
        retryAttempts: config.isProduction ? 10 : 1,
        retryDelay: 1000,
        [BOOT_CONFIG]: config,
      }),
      dataSourceFactory: (options) => createDataSource(options!),
    }),
  ],
  providers: [TransactionService],
  exports: [TransactionService],
})
export class DatabaseModule {}

async function createDataSource(options: DataSourceOptions): Promise<DataSource> {
  const config = (options as unknown as Record<symbol, AppConfig>)[BOOT_CONFIG];
  const logger = new Logger('Database');
  let finalOptions = options;
  let closeEmbedded: (() => Promise<void>) | undefined;
  if (config.usesPglite) {
    const pglite = await openPglite(path.join(config.storageDir, 'db'));
    const embedded = buildDataSourceOptions({ pglite });
    finalOptions = { ...options, url: undefined, extra: embedded.extra } as DataSourceOptions;
    closeEmbedded = () => pglite.close();
  }
  const dataSource = new DataSource(finalOptions);
  try {
    await dataSource.initialize();
    if (config.hasRole('api') && config.env.DATABASE_RUN_MIGRATIONS) {
      if (config.usesPglite) await runMigrations(dataSource, { useLock: false });
      else await withoutTimeouts(finalOptions, (ds) => runMigrations(ds, { useLock: true }));
    }
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    await closeEmbedded?.().catch(() => undefined);
    throw err;
  }
  if (closeEmbedded) {
    // PGlite must close after the pool has ended, so its last writes reach the disk.
    const destroy = dataSource.destroy.bind(dataSource);
    const close = closeEmbedded;
    dataSource.destroy = async () => {
      await destroy();
      await close();
    };
  }
  logger.log(`Connected to ${config.usesPglite ? 'PGlite (embedded)' : 'PostgreSQL'}`);
  return dataSource;
}

/**
 * Runs `work` on a short-lived pool without the statement and query timeouts: a migration (an
 * index build over a large table) or the wait for another replica's migration lock may take
 * longer than any request should.
 */
async function withoutTimeouts<T>(
  options: DataSourceOptions,
  work: (ds: DataSource) => Promise<T>,
): Promise<T> {
  const extra: Record<string, unknown> = { ...(options.extra as object), max: 2 };
  delete extra.statement_timeout;
  delete extra.query_timeout;
  delete extra.idle_in_transaction_session_timeout;
  // Migrations are SQL: the entities' metadata is not needed.
  const ds = new DataSource({ ...options, entities: [], extra });
  await ds.initialize();
  try {
    return await work(ds);
  } finally {
    await ds.destroy();
  }
}
