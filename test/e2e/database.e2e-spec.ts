import {
  buildDataSourceOptions,
  openPglite,
  pendingSchemaChanges,
  runMigrations,
  TransactionService,
} from '@app/database';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { QueueJobEntity } from '@app/queue';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { ADMIN_DATABASE_URL, databaseUrl, runId, workerId } from '@test/support/test-env';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

/** A fresh PGlite database in a temporary directory, as the embedded service opens it. */
async function withPglite(
  work: (ds: DataSource) => Promise<void>,
  opts: { pgliteWaitMs?: number } = {},
): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'llmops-pglite-'));
  const pglite = await openPglite(dir);
  const ds = new DataSource(buildDataSourceOptions({ pglite, ...opts }));
  try {
    await ds.initialize();
    await work(ds);
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await pglite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('has no drift between entities and migrations', async () => {
    expect(await pendingSchemaChanges(t.app.get(DataSource))).toEqual([]);
  });

  it('commits or rolls back multi-row work as one transaction', async () => {
    const tx = t.app.get(TransactionService);
    const repo = t.app.get(DataSource).getRepository(QueueJobEntity);
    const key = `tx-test-${Date.now()}-${Math.random()}`;
    const row = (k: string) =>
      repo.create({
        queue: 'maintenance',
        name: 'maintenance.selftest',
        key: k,
        timeout_ms: 1000,
        status: 'failed',
      });
    await expect(
      tx.run(async (m) => {
        await m.save(row(`${key}-a`));
        await m.save(row(`${key}-b`));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await repo.count({ where: [{ key: `${key}-a` }, { key: `${key}-b` }] })).toBe(0);
    await tx.run(async (m) => {
      await m.save(row(`${key}-a`));
      await m.save(row(`${key}-b`));
    });
    expect(await repo.count({ where: [{ key: `${key}-a` }, { key: `${key}-b` }] })).toBe(2);
  });

  it('migrates a fresh database once when several api replicas boot at the same time', async () => {
    const name = `llmops_test_${runId()}_w${workerId()}_race`;
    const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const sources = [1, 2, 3].map(
      () => new DataSource(buildDataSourceOptions({ url: databaseUrl(name), poolMax: 3 })),
    );
    try {
      await Promise.all(sources.map((s) => s.initialize()));
      const applied = await Promise.all(sources.map((s) => runMigrations(s, { useLock: true })));
      const total = applied.reduce((n, a) => n + a.length, 0);
      const [{ n }] = await sources[0].query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM migrations',
      );
      expect(total).toBe(n); // each migration applied by exactly one replica
      expect(n).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all(sources.filter((s) => s.isInitialized).map((s) => s.destroy()));
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('runs the same migrations on PGlite with vector and trigram, gen_random_uuid built in', async () => {
    await withPglite(async (ds) => {
      await runMigrations(ds, { useLock: false });
      expect(await pendingSchemaChanges(ds)).toEqual([]);
      const [row] = await ds.query<{ d: number; s: number; u: string }[]>(
        `SELECT '[1,0]'::vector <=> '[0,1]'::vector AS d, similarity('llmops', 'llmop') AS s, gen_random_uuid()::text AS u`,
      );
      expect(row.d).toBeCloseTo(1);
      expect(row.s).toBeGreaterThan(0.5);
      expect(row.u).toMatch(/^[0-9a-f-]{36}$/);
      // Sized for one in-process connection, not Postgres's server default (memory, see pglite.ts).
      const [sb] = await ds.query<{ shared_buffers: string }[]>('SHOW shared_buffers');
      expect(sb.shared_buffers).toBe('16MB');
    });
  }, 120_000);

  it('lets the event loop turn between PGlite statements (a run of queries holds no one up)', async () => {
    await withPglite(async (ds) => {
      // PGlite works on this thread and its promises resolve without I/O: without a turn per
      // statement, no timer ran until the last of these ended.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        for (let i = 0; i < 10; i++) {
          await ds.query('SELECT count(*) FROM generate_series(1, 200000)');
        }
      } finally {
        clearInterval(timer);
      }
      expect(ticks).toBeGreaterThanOrEqual(5);
    });
  }, 60_000);

  it('fails a PGlite query that waits too long for the one connection instead of hanging', async () => {
    await withPglite(
      async (ds) => {
        const holder = ds.createQueryRunner();
        await holder.connect();
        await holder.startTransaction();
        const started = Date.now();
        await expect(ds.query('SELECT 1')).rejects.toThrow(/timeout/i);
        expect(Date.now() - started).toBeLessThan(5_000);
        await holder.rollbackTransaction();
        await holder.release();
        // The connection serves again once it is free.
        expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      },
      { pgliteWaitMs: 300 },
    );
  }, 60_000);

  it('opens an embedded database created when pgcrypto was still loaded', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmops-pglite-old-'));
    try {
      const old = await PGlite.create(dir, { extensions: { pgcrypto } });
      await old.exec(
        'CREATE EXTENSION pgcrypto; CREATE TABLE kept (id uuid DEFAULT gen_random_uuid())',
      );
      await old.exec('INSERT INTO kept DEFAULT VALUES');
      await old.close();
      const pglite = await openPglite(dir);
      try {
        const { rows } = await pglite.query<{ n: number }>('SELECT count(*)::int AS n FROM kept');
        expect(rows[0].n).toBe(1);
        await pglite.exec('INSERT INTO kept DEFAULT VALUES');
        // The first migration's down step still drops the extension without its library.
        await pglite.exec('DROP EXTENSION IF EXISTS "pgcrypto"');
        const ext = await pglite.query('SELECT 1 FROM pg_extension WHERE extname = $1', [
          'pgcrypto',
        ]);
        expect(ext.rows).toHaveLength(0);
      } finally {
        await pglite.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
