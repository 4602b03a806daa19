import type { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import * as path from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { SnakeNamingStrategy } from './snake-naming.strategy';

/** Repository root at run time: `<repo>` under ts-node/jest, `<repo>/dist` when built. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

export const ENTITY_GLOBS = [path.join(PROJECT_ROOT, '{src,libs}', '**', '*.entity.{ts,js}')];
export const MIGRATION_GLOBS = [path.join(PROJECT_ROOT, 'migrations', '*.{ts,js}')];

/** How much longer than statement_timeout the client waits for an answer (network, queueing). */
const QUERY_TIMEOUT_MARGIN_MS = 5_000;
/** PGlite's one connection: the longest a query waits for it (see `pgliteWaitMs`). */
const PGLITE_WAIT_MS = 30_000;
/** A transaction left open this long (a leaked query runner) is ended by the server. */
const IDLE_IN_TRANSACTION_MS = 300_000;

export interface DataSourceInput {
  /** postgres:// URL (scale mode); absent means the PGlite instance below. */
  url?: string;
  pglite?: PGlite;
  poolMax?: number;
  /**
   * PostgreSQL `statement_timeout` (a statement or its lock wait ends with an error), plus 5 s
   * as the client's own wait for any answer (an unreachable server), and a 5 minute
   * `idle_in_transaction_session_timeout`. Absent or 0: no limits (CLIs, migrations).
   */
  statementTimeoutMs?: number;
  /**
   * PGlite only: how long a query waits for the one connection (held by a transaction or a long
   * statement) before it fails instead of hanging its request. Default 30 s.
   */
  pgliteWaitMs?: number;
  /** Explicit entity classes (the Nest app registers them per module); globs otherwise. */
  entities?: DataSourceOptions['entities'];
  logging?: boolean;
}

/** One place that decides how we talk to Postgres, for the app, the CLI and the tests. */
export function buildDataSourceOptions(input: DataSourceInput): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities: input.entities ?? ENTITY_GLOBS,
    migrations: MIGRATION_GLOBS,
    migrationsTableName: 'migrations',
    migrationsRun: false, // the migrator runs them, under a lock, in the api role only
    synchronize: false,
    uuidExtension: 'pgcrypto' as const, // generated uuids default to gen_random_uuid() (core since PG 13)
    installExtensions: false, // the first migration creates them
    namingStrategy: new SnakeNamingStrategy(),
    logging: input.logging ?? false,
  };
  if (input.url) {
    return {
      ...common,
      url: input.url,
      extra: {
        max: input.poolMax ?? 10,
        connectionTimeoutMillis: 10_000,
        application_name: 'llmops',
        // A server that vanished (no FIN, no RST) is noticed instead of waited on for ever.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        ...(input.statementTimeoutMs
          ? {
              statement_timeout: input.statementTimeoutMs,
              query_timeout: input.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
              idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
            }
          : {}),
      },
    };
  }
  if (!input.pglite) throw new Error('buildDataSourceOptions: either url or pglite is required');
  // PGlite is single-connection: node-postgres talks to it through an in-process "socket".
  const cfg = createPgConfig(input.pglite);
  return {
    ...common,
    extra: {
      ...cfg,
      connection: cfg.connection,
      max: 1,
      connectionTimeoutMillis: input.pgliteWaitMs ?? PGLITE_WAIT_MS,
    },
  };
}
