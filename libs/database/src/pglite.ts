import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { vector } from '@electric-sql/pglite-pgvector';
import { mkdirSync } from 'node:fs';

/** Opens (creating when absent) the embedded Postgres in `dir`, with the extensions we use. */
export async function openPglite(dir: string): Promise<PGlite> {
  mkdirSync(dir, { recursive: true });
  return PGlite.create(dir, { extensions: { vector, pg_trgm, pgcrypto } });
}
