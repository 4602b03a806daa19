import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { vector } from '@electric-sql/pglite-pgvector';
import { mkdirSync } from 'node:fs';
import { setImmediate } from 'node:timers/promises';

/**
 * Postgres settings of the embedded database. Postgres's 128 MB default of shared_buffers is
 * sized for a server with many clients; PGlite has one connection in this process, and every page
 * of the buffer pool it touches is resident memory of the whole service (measured: idle RSS of
 * PGlite alone 420 MB with the default, about 300 MB with 16 MB). The OS page cache still caches
 * the data files, so reads stay fast.
 */
export const PGLITE_SETTINGS = ['shared_buffers = 16MB', 'temp_buffers = 4MB'];

/**
 * Opens (creating when absent) the embedded Postgres in `dir`, with the extensions we use. Each
 * extension bundle is loaded at start whether used or not: `pgcrypto` (OpenSSL, ~40 MB resident)
 * is left out, `gen_random_uuid()` being built in; a database created with it still opens.
 */
export async function openPglite(dir: string): Promise<PGlite> {
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir, {
    extensions: { vector, pg_trgm },
    postgresqlconf: PGLITE_SETTINGS,
  });
  return yieldingBetweenMessages(db);
}

/**
 * PGlite runs each protocol message synchronously on this thread, and its promises resolve
 * without I/O: a job's run of awaited queries (a purge's batches, an import's inserts) held every
 * request until the last one ended (20 queries of 60 ms: no timer ran for 1.2 s). Each message
 * now first lets the event loop turn, so requests get in between statements. A turn costs
 * microseconds; a statement, far more.
 */
function yieldingBetweenMessages(db: PGlite): PGlite {
  const raw = db.execProtocolRaw.bind(db);
  db.execProtocolRaw = async (...args: Parameters<PGlite['execProtocolRaw']>) => {
    await setImmediate();
    return raw(...args);
  };
  return db;
}
