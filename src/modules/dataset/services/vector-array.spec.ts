import { ADMIN_DATABASE_URL, databaseUrl } from '@test/support/test-env';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { binaryVectorArray } from './vector-array';

describe('binaryVectorArray', () => {
  const name = `llmops_vector_array_${randomBytes(4).toString('hex')}`;
  let admin: Client;
  let db: Client;

  beforeAll(async () => {
    admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    db = new Client({ connectionString: databaseUrl(name) });
    await db.connect();
    await db.query('CREATE EXTENSION vector');
  });
  afterAll(async () => {
    await db?.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('reads in PostgreSQL as the same vectors as their text literals', async () => {
    const [{ oid }] = (await db.query<{ oid: number }>(`SELECT 'vector'::regtype::oid AS oid`))
      .rows;
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5;
    for (const dims of [1, 3, 384]) {
      // float4 values, as embedding APIs return them, and a few extremes.
      const vectors = Array.from({ length: 5 }, () =>
        Array.from({ length: dims }, () => Math.fround(rnd() * 2)),
      );
      vectors.push(Array.from({ length: dims }, (_, i) => [0, -0, 1e-30, -3.4e38, 7][i % 5]));
      const { rows } = await db.query<{ same: boolean; n: number }>(
        `SELECT count(*)::int AS n, bool_and(b = t::vector) AS same
           FROM unnest($1::vector[], $2::text[]) AS v(b, t)`,
        [binaryVectorArray(vectors, oid), vectors.map((v) => `[${v.join(',')}]`)],
      );
      expect(rows[0]).toEqual({ n: vectors.length, same: true });
    }
  });

  it('refuses vectors of different dimensions in one array', () => {
    expect(() => binaryVectorArray([[1, 2], [3]], 1)).toThrow(/same dimensions/);
  });
});
