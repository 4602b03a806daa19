import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { eventually } from '@test/support/eventually';
import { DataSource } from 'typeorm';
import { smallSegments } from '@test/support/document-fixtures';

/**
 * Embedded mode (PGlite, which runs on the process's own thread): indexing must leave the rest
 * of the process room to answer. A chunk's vectors are written in short statements whose size is
 * learned from the ones before, not in one statement that held every request for seconds.
 */
describe('Datasets in embedded mode (PGlite)', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  let a: TestAccount;

  beforeAll(async () => {
    openai = await FakeOpenAI.create({ embeddingDimensions: 1536 });
    t = await createTestApp({
      env: {
        DATABASE_URL: undefined,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        MODEL_MAX_RETRIES: '0',
        DATASET_INDEX_CHUNK: '64',
      },
    });
    expect(t.config.usesPglite).toBe(true);
    a = await createAccount(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  it('writes each chunk in paced statements, and every segment ends searchable', async () => {
    const db = t.app.get(DataSource);
    const statements: number[] = [];
    const query = db.query.bind(db);
    // A transaction's statements come here with its query runner: passed on as they came.
    const spy = jest.spyOn(db, 'query').mockImplementation((sql, params, runner) => {
      const ids: unknown = Array.isArray(params) ? params[0] : undefined;
      if (sql.includes('UPDATE segments s') && Array.isArray(ids)) statements.push(ids.length);
      return query(sql, params, runner);
    });
    try {
      const text = Array.from(
        { length: 150 },
        // About 60 tokens: one paragraph per segment of at most 100.
        (_, i) =>
          `Paragraph ${i} is about topic${i}. `.repeat(3) +
          'Retrieval finds a segment by meaning, keywords catch exact names, numbers and codes.',
      ).join('\n\n');
      const up = await t
        .http()
        .post('/upload-files/file')
        .set(a.auth)
        .attach('file', Buffer.from(text), 'paced.txt');
      expect(up.body.code).toBe('success');
      const ds = await t.http().post('/datasets').set(a.auth).send({ name: 'paced' });
      expect(ds.body.data.indexing_mode).toBe('high_quality');
      const created = await t
        .http()
        .post(`/datasets/${ds.body.data.id}/documents`)
        .set(a.auth)
        .send({
          upload_file_ids: [up.body.data.id],
          ...smallSegments({ separators: ['\n\n'], removeUrls: false }),
        });
      expect(created.body.code).toBe('success');
      const docId = created.body.data.documents[0].id as string;
      const status = await eventually(
        async () => {
          const [row] = await query(`SELECT status FROM documents WHERE id = $1`, [docId]);
          return (row as { status: string }).status;
        },
        (s) => s === 'completed' || s === 'error',
        90_000,
        100,
      );
      expect(status).toBe('completed');

      const [counts] = await query(
        `SELECT count(*)::int AS n,
                count(*) FILTER (WHERE status = 'completed' AND embedding IS NOT NULL
                                   AND search_vector IS NOT NULL AND embedding_dims = 1536)::int AS ready
           FROM segments WHERE document_id = $1`,
        [docId],
      );
      expect(counts.n).toBeGreaterThan(64); // more than one chunk
      expect(counts.ready).toBe(counts.n);
      // Every row written once, in more statements than chunks; the first is small, and none is
      // more than twice the one before.
      expect(statements.reduce((s, n) => s + n, 0)).toBe(counts.n);
      expect(statements.length).toBeGreaterThan(Math.ceil(counts.n / 64));
      expect(statements[0]).toBe(8);
      for (let i = 1; i < statements.length; i++) {
        expect(statements[i]).toBeLessThanOrEqual(2 * statements[i - 1]);
      }

      const hit = await t
        .http()
        .post(`/datasets/${ds.body.data.id}/hit`)
        .set(a.auth)
        .send({ query: 'topic42', retrieval_strategy: 'hybrid', k: 3, score: 0 });
      expect(hit.body.code).toBe('success');
      expect(hit.body.data.length).toBeGreaterThan(0);
    } finally {
      spy.mockRestore();
    }
  }, 120_000);
});
