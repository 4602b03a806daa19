import { buildDataSourceOptions, runMigrations } from '@app/database';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { vector } from '@electric-sql/pglite-pgvector';
import { cosine, fakeEmbedding } from '@test/fakes/fake-llm-common';
import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { searchQuery, searchTerms } from 'src/modules/dataset/indexing/keywords';
import { RetrievalRepository } from 'src/modules/dataset/retrieval/retrieval.repository';
import { RetrievalService } from 'src/modules/dataset/retrieval/retrieval.service';

/**
 * Retrieval against real PostgreSQL + pgvector: rows seeded with SQL (vectors from fakeEmbedding,
 * so neighbours are predictable), the query embedded by the fake OpenAI server through the real
 * EmbeddingService. `text-embedding-3-small` answers 8 dimensions, `-large` 16.
 */

const SMALL = 'text-embedding-3-small';
const LARGE = 'text-embedding-3-large';
const dimsOf = (model: string) => (model === LARGE ? 16 : 8);

type Queryable = Pick<DataSource, 'query'>;

interface Seeded {
  datasetId: string;
  documentId: string;
  segments: Map<string, string>; // content -> id
}

async function seedDataset(
  db: Queryable,
  accountId: string,
  opts: { model?: string; economy?: boolean } = {},
): Promise<string> {
  const [row] = await db.query<Array<{ id: string }>>(
    `INSERT INTO datasets (account_id, name, indexing_mode, embedding_provider, embedding_model, embedding_dims, retrieval_config)
     VALUES ($1, $2, $3, $4, $5, $6, '{"retrieval_strategy":"semantic","k":4,"score":0}') RETURNING id`,
    [
      accountId,
      `ds-${randomUUID()}`,
      opts.economy ? 'economy' : 'high_quality',
      opts.economy ? '' : 'openai',
      opts.economy ? '' : (opts.model ?? SMALL),
      opts.economy ? null : dimsOf(opts.model ?? SMALL),
    ],
  );
  return row.id;
}

async function seedDocument(
  db: Queryable,
  accountId: string,
  datasetId: string,
  opts: { name?: string; enabled?: boolean; status?: string } = {},
): Promise<string> {
  const [file] = await db.query<Array<{ id: string }>>(
    `INSERT INTO upload_files (account_id, name, key, size, extension, mime_type, hash, kind)
     VALUES ($1, 'notes.md', 'k', 10, 'md', 'text/markdown', repeat('a', 64), 'document') RETURNING id`,
    [accountId],
  );
  const [doc] = await db.query<Array<{ id: string }>>(
    `INSERT INTO documents (account_id, dataset_id, upload_file_id, batch, name, position, process_rule, status, enabled)
     VALUES ($1, $2, $3, 'b1', $4, (SELECT count(*) + 1 FROM documents WHERE dataset_id = $2), '{}', $5, $6) RETURNING id`,
    [
      accountId,
      datasetId,
      file.id,
      opts.name ?? 'notes.md',
      opts.status ?? 'completed',
      opts.enabled ?? true,
    ],
  );
  return doc.id;
}

async function seedSegments(
  db: Queryable,
  accountId: string,
  datasetId: string,
  documentId: string,
  contents: string[],
  opts: { dims?: number | null; enabled?: boolean; status?: string } = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const content of contents) {
    const dims = opts.dims === undefined ? 8 : opts.dims;
    const [row] = await db.query<Array<{ id: string }>>(
      `INSERT INTO segments (account_id, dataset_id, document_id, position, content, hash, keywords, character_count,
                             token_count, enabled, status, embedding, embedding_dims, search_vector)
       VALUES ($1, $2, $3, (SELECT count(*) + 1 FROM segments WHERE document_id = $3), $4, md5($4), '["k"]',
               length($4), 3, $5, $6, $7::vector, $8, to_tsvector('simple', $9))
       RETURNING id`,
      [
        accountId,
        datasetId,
        documentId,
        content,
        opts.enabled ?? true,
        opts.status ?? 'completed',
        dims ? `[${fakeEmbedding(content, dims).join(',')}]` : null,
        dims,
        searchTerms(content),
      ],
    );
    out.set(content, row.id);
  }
  return out;
}

/**
 * On a few rows the planner rightly prefers reading the dataset and sorting; these settings make
 * it take an ordered index path when one matches, as it does on a big table (bench/retrieval).
 */
async function forceIndexPath(m: Queryable): Promise<void> {
  await m.query('SET LOCAL enable_seqscan = off');
  await m.query('SET LOCAL enable_bitmapscan = off');
  await m.query('SET LOCAL enable_sort = off');
}

const ENGLISH = [
  'cats purr softly on the sofa',
  'dogs bark loudly at night',
  'the stock market crashed today',
  'the weather is sunny and warm',
  'green tea and black coffee',
];
const CHINESE = ['北京大学的知识库很大', '今天天气很好'];

describe('dataset retrieval', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  let db: DataSource;
  let repo: RetrievalRepository;
  let alice: TestAccount;
  let bob: TestAccount;
  let main: Seeded;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    // The large model answers 16 dimensions (the SDK sends no `dimensions`).
    openai.fallback = (req) =>
      req.endpoint === 'embeddings' && req.body?.model === LARGE
        ? {
            type: 'embeddings',
            vectors: [].concat(req.body.input).map((s: string) => fakeEmbedding(s, 16)),
          }
        : undefined;
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      },
    });
    db = t.app.get(DataSource);
    repo = t.app.get(RetrievalRepository);
    await repo.ensureVectorIndex(8);
    await repo.ensureVectorIndex(16);
    alice = await createAccount(t);
    bob = await createAccount(t);
    const datasetId = await seedDataset(db, alice.id);
    const documentId = await seedDocument(db, alice.id, datasetId, { name: 'animals.md' });
    const segments = await seedSegments(db, alice.id, datasetId, documentId, [
      ...ENGLISH,
      ...CHINESE,
    ]);
    main = { datasetId, documentId, segments };
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  const hit = (account: TestAccount, datasetId: string, body: Record<string, unknown>) =>
    t.http().post(`/datasets/${datasetId}/hit`).set(account.auth).send(body);

  /** The expected semantic order of `contents` for `query` (what exact search would return). */
  const byCosine = (query: string, contents: string[], dims = 8) =>
    contents
      .map((c) => ({ c, s: cosine(fakeEmbedding(query, dims), fakeEmbedding(c, dims)) }))
      .sort((a, b) => b.s - a.s);

  /**
   * A dataset of 400 distinct hidden segments (the subquery is correlated with g, so it runs per
   * row) nearer to 'needle' than the visible ENGLISH ones: more than ef_search.
   */
  async function hiddenNearNeedle(): Promise<{ datasetId: string; visible: Map<string, string> }> {
    const datasetId = await seedDataset(db, alice.id);
    const documentId = await seedDocument(db, alice.id, datasetId);
    await db.query(
      `INSERT INTO segments (account_id, dataset_id, document_id, position, content, hash, enabled, status, embedding, embedding_dims)
       SELECT $1, $2, $3, 1000 + g, 'hidden', 'h', false, 'completed',
              (SELECT array_agg(x + (random() - 0.5) * 0.1 ORDER BY i) FROM unnest($4::real[]) WITH ORDINALITY AS u(x, i) WHERE g > 0)::vector, 8
       FROM generate_series(1, 400) g`,
      [alice.id, datasetId, documentId, fakeEmbedding('needle', 8)],
    );
    const visible = await seedSegments(db, alice.id, datasetId, documentId, ENGLISH);
    await db.query('ANALYZE segments');
    return { datasetId, visible };
  }

  describe('semantic', () => {
    it('returns the nearest segments with the console shape, scores = cosine similarity', async () => {
      const res = await hit(alice, main.datasetId, {
        query: 'cats purr',
        retrieval_strategy: 'semantic',
        k: 3,
        score: 0,
      });
      expect(res.status).toBe(200);
      expect(res.body.code).toBe('success');
      const expected = byCosine('cats purr', [...ENGLISH, ...CHINESE]).slice(0, 3);
      expect(res.body.data.map((h: { content: string }) => h.content)).toEqual(
        expected.map((e) => e.c),
      );
      res.body.data.forEach((h: { score: number }, i: number) =>
        expect(h.score).toBeCloseTo(Math.max(0, expected[i].s), 5),
      );
      const first = res.body.data[0];
      const nearest = expected[0].c;
      expect(first).toEqual({
        id: main.segments.get(nearest),
        document: {
          id: main.documentId,
          name: 'animals.md',
          extension: 'md',
          mime_type: 'text/markdown',
        },
        dataset_id: main.datasetId,
        score: expect.any(Number),
        position: [...ENGLISH, ...CHINESE].indexOf(nearest) + 1,
        content: nearest,
        keywords: ['k'],
        character_count: nearest.length,
        token_count: 3,
        hit_count: expect.any(Number),
        enabled: true,
        disabled_at: 0,
        status: 'completed',
        error: '',
        updated_at: expect.any(Number),
        created_at: expect.any(Number),
      });
      expect(first.score).toBeGreaterThan(0);
      expect(first.score).toBeLessThanOrEqual(1);
      expect(openai.requestsTo('embeddings').at(-1)!.body).toMatchObject({
        model: SMALL,
        input: ['cats purr'],
      });
    });

    it('honours k and the score threshold', async () => {
      const one = await hit(alice, main.datasetId, {
        query: 'dogs bark',
        retrieval_strategy: 'semantic',
        k: 1,
        score: 0,
      });
      expect(one.body.data).toHaveLength(1);
      expect(one.body.data[0].content).toBe('dogs bark loudly at night');

      const threshold = 0.6;
      const expected = byCosine('dogs bark loudly at night', [...ENGLISH, ...CHINESE])
        .filter((e) => e.s >= threshold)
        .map((e) => e.c);
      expect(expected.length).toBeGreaterThanOrEqual(1);
      expect(expected.length).toBeLessThan(ENGLISH.length + CHINESE.length);
      const res = await hit(alice, main.datasetId, {
        query: 'dogs bark loudly at night',
        retrieval_strategy: 'semantic',
        k: 10,
        score: threshold,
      });
      expect(res.body.data.map((h: { content: string }) => h.content)).toEqual(expected);
      expect(res.body.data[0].score).toBeCloseTo(1, 5);
    });

    it('searches the scope exactly when the index scan stops short of k', async () => {
      // Hidden segments nearer than anything visible, and an iterative scan allowed to look at
      // almost nothing (as when hnsw.max_scan_tuples is spent on other rows).
      const { datasetId, visible } = await hiddenNearNeedle();
      const scope = { accountId: alice.id, datasetIds: [datasetId], k: 3 };
      const needle = fakeEmbedding('needle', 8);
      const hits = await db.transaction(async (m) => {
        await forceIndexPath(m);
        await m.query('SET LOCAL hnsw.max_scan_tuples = 1');
        expect(await repo.explainSemantic(scope, needle, m)).toMatch(
          /Index Scan using idx_segments_embedding_8/,
        );
        return repo.semantic(scope, needle, m);
      });
      const exact = byCosine('needle', ENGLISH).slice(0, 3);
      expect(hits.map((h) => h.id)).toEqual(exact.map((e) => visible.get(e.c)));
    });

    it('keeps scanning the index when filters drop the nearest neighbours (iterative scan)', async () => {
      const { datasetId, visible } = await hiddenNearNeedle();
      const hits = await db.transaction(async (m) => {
        await forceIndexPath(m);
        expect(
          await repo.explainSemantic(
            { accountId: alice.id, datasetIds: [datasetId], k: 3 },
            fakeEmbedding('needle', 8),
            m,
          ),
        ).toMatch(/Index Scan using idx_segments_embedding_8/);
        return repo.semantic(
          { accountId: alice.id, datasetIds: [datasetId], k: 3 },
          fakeEmbedding('needle', 8),
          m,
        );
      });
      // The premise: every hidden segment is nearer than every visible one.
      const [far] = await db.query<Array<{ hidden: number; visible: number }>>(
        `SELECT max(d) FILTER (WHERE NOT enabled) AS hidden, min(d) FILTER (WHERE enabled) AS visible
         FROM (SELECT enabled, embedding::vector(8) <=> $2::vector(8) AS d FROM segments WHERE dataset_id = $1) x`,
        [datasetId, `[${fakeEmbedding('needle', 8).join(',')}]`],
      );
      expect(far.hidden).toBeLessThan(far.visible);
      expect(hits).toHaveLength(3);
      expect(hits.every((h) => [...visible.values()].includes(h.id))).toBe(true);
    });

    it('is planned on the partial HNSW index of its dimension', async () => {
      const plan = await db.transaction(async (m) => {
        await forceIndexPath(m);
        return repo.explainSemantic(
          { accountId: alice.id, datasetIds: [main.datasetId], k: 3 },
          fakeEmbedding('cats', 8),
          m,
        );
      });
      expect(plan).toMatch(/Index Scan using idx_segments_embedding_8 on segments/);
      const indexes = await db.query<Array<{ indexname: string; indexdef: string }>>(
        `SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN ('idx_segments_embedding_8', 'idx_segments_embedding_16') ORDER BY indexname`,
      );
      expect(indexes.map((i) => i.indexname)).toEqual([
        'idx_segments_embedding_16',
        'idx_segments_embedding_8',
      ]);
      expect(indexes[1].indexdef).toMatch(
        /USING hnsw \(\(\(embedding\)::vector\(8\)\) vector_cosine_ops\).*WHERE \(embedding_dims = 8\)/,
      );
    });
  });

  describe('full text', () => {
    it('matches a Chinese query to Chinese text and an English query to English text', async () => {
      const zh = await hit(alice, main.datasetId, {
        query: '知识库',
        retrieval_strategy: 'full_text',
        k: 5,
        score: 0.5,
      });
      expect(zh.body.data.map((h: { content: string }) => h.content)).toEqual([
        '北京大学的知识库很大',
      ]);
      expect(zh.body.data[0].score).toBeGreaterThan(0);
      expect(zh.body.data[0].score).toBeLessThanOrEqual(1);

      const en = await hit(alice, main.datasetId, {
        query: 'Weather?',
        retrieval_strategy: 'full_text',
        k: 5,
        score: 0,
      });
      expect(en.body.data.map((h: { content: string }) => h.content)).toEqual([
        'the weather is sunny and warm',
      ]);
      // No embedding request for a full-text search.
      expect(openai.requestsTo('embeddings').filter((r) => r.body.input[0] === 'Weather?')).toEqual(
        [],
      );
    });

    it('treats tsquery syntax in the query as plain words', async () => {
      for (const query of ["tea & !coffee | ')( :*", "\\' weather <-> sunny", '!!!']) {
        const res = await hit(alice, main.datasetId, {
          query,
          retrieval_strategy: 'full_text',
          k: 10,
          score: 0,
        });
        expect(res.body.code).toBe('success');
        const expected = [...ENGLISH, ...CHINESE].filter((c) =>
          searchQuery(query).some((term) => searchTerms(c).split(' ').includes(term)),
        );
        expect(res.body.data.map((h: { content: string }) => h.content).sort()).toEqual(
          expected.sort(),
        );
      }
    });

    it('ranks segments with more of the terms first', async () => {
      const res = await hit(alice, main.datasetId, {
        query: 'weather sunny today',
        retrieval_strategy: 'full_text',
        k: 10,
        score: 0,
      });
      const contents = res.body.data.map((h: { content: string }) => h.content);
      expect(contents[0]).toBe('the weather is sunny and warm');
      expect(contents.sort()).toEqual(
        ['the weather is sunny and warm', 'the stock market crashed today'].sort(),
      );
    });
  });

  describe('hybrid', () => {
    it('fuses both lists: a segment found by both first, keyword-only and meaning-only hits after', async () => {
      const res = await hit(alice, main.datasetId, {
        query: 'stock market 知识库',
        retrieval_strategy: 'hybrid',
        k: 10,
        score: 0,
      });
      const contents: string[] = res.body.data.map((h: { content: string }) => h.content);
      expect(contents[0]).toBe('the stock market crashed today');
      expect(contents).toContain('北京大学的知识库很大');
      expect(contents).toHaveLength(ENGLISH.length + CHINESE.length);
      for (const h of res.body.data) {
        expect(h.score).toBeGreaterThanOrEqual(0);
        expect(h.score).toBeLessThanOrEqual(1);
      }
      // 0.7 x similarity + 0.3 x keyword rank relative to the best: the top hit has the best rank.
      const sim = cosine(
        fakeEmbedding('stock market 知识库', 8),
        fakeEmbedding('the stock market crashed today', 8),
      );
      expect(res.body.data[0].score).toBeCloseTo(0.7 * Math.max(0, sim) + 0.3, 5);
    });

    it('applies the threshold to the hybrid score', async () => {
      const all = await hit(alice, main.datasetId, {
        query: 'cats purr softly on the sofa',
        retrieval_strategy: 'hybrid',
        k: 10,
        score: 0,
      });
      const scores: number[] = all.body.data.map((h: { score: number }) => h.score);
      const cut = 0.5;
      const res = await hit(alice, main.datasetId, {
        query: 'cats purr softly on the sofa',
        retrieval_strategy: 'hybrid',
        k: 10,
        score: cut,
      });
      expect(res.body.data.length).toBe(scores.filter((s) => s >= cut).length);
      expect(res.body.data.length).toBeGreaterThan(0);
      expect(res.body.data.every((h: { score: number }) => h.score >= cut)).toBe(true);
      expect(res.body.data[0].content).toBe('cats purr softly on the sofa');
      expect(res.body.data[0].score).toBeCloseTo(1, 5);
    });
  });

  it('never returns disabled segments, disabled documents or unfinished ones', async () => {
    const datasetId = await seedDataset(db, alice.id);
    const text = 'hidden penguin glacier';
    const ok = await seedDocument(db, alice.id, datasetId);
    const off = await seedDocument(db, alice.id, datasetId, { enabled: false });
    const busy = await seedDocument(db, alice.id, datasetId, { status: 'indexing' });
    const failed = await seedDocument(db, alice.id, datasetId, { status: 'error' });
    await seedSegments(db, alice.id, datasetId, ok, [text], { enabled: false });
    await seedSegments(db, alice.id, datasetId, ok, [`${text} 1`], { status: 'indexing' });
    await seedSegments(db, alice.id, datasetId, ok, [`${text} 2`], { status: 'error' });
    for (const doc of [off, busy, failed]) await seedSegments(db, alice.id, datasetId, doc, [text]);
    const visible = await seedSegments(db, alice.id, datasetId, ok, ['visible otter river']);
    for (const strategy of ['semantic', 'full_text', 'hybrid']) {
      const res = await hit(alice, datasetId, {
        query: `${text} otter`,
        retrieval_strategy: strategy,
        k: 10,
        score: 0,
      });
      expect(res.body.code).toBe('success');
      expect(res.body.data.map((h: { id: string }) => h.id)).toEqual([
        visible.get('visible otter river'),
      ]);
    }
  });

  it("answers not_found for another account's dataset and never searches it", async () => {
    const before = await db.query(
      `SELECT count(*)::int AS n FROM dataset_queries WHERE dataset_id = $1`,
      [main.datasetId],
    );
    const res = await hit(bob, main.datasetId, {
      query: 'cats',
      retrieval_strategy: 'semantic',
      k: 3,
      score: 0,
    });
    expect(res.body.code).toBe('not_found');
    const list = await t.http().get(`/datasets/${main.datasetId}/queries`).set(bob.auth);
    expect(list.body.code).toBe('not_found');
    // Through the service (apps, workflows): the foreign id is silently skipped.
    const hits = await t.app.get(RetrievalService).retrieve(bob.id, {
      datasetIds: [main.datasetId],
      query: 'cats',
      strategy: 'hybrid',
      k: 5,
      score: 0,
      source: 'app',
    });
    expect(hits).toEqual([]);
    const after = await db.query(
      `SELECT count(*)::int AS n FROM dataset_queries WHERE dataset_id = $1`,
      [main.datasetId],
    );
    expect(after[0].n).toBe(before[0].n);
    const missing = await hit(alice, randomUUID(), {
      query: 'cats',
      retrieval_strategy: 'semantic',
      k: 3,
      score: 0,
    });
    expect(missing.body.code).toBe('not_found');
  });

  it('searches datasets of different dimensions together, each on its own index, merged by score', async () => {
    const small = await seedDataset(db, alice.id, { model: SMALL });
    const large = await seedDataset(db, alice.id, { model: LARGE });
    const economy = await seedDataset(db, alice.id, { economy: true });
    const smallSegs = await seedSegments(
      db,
      alice.id,
      small,
      await seedDocument(db, alice.id, small),
      ['red apples grow on trees', 'blue whales swim'],
    );
    const largeSegs = await seedSegments(
      db,
      alice.id,
      large,
      await seedDocument(db, alice.id, large),
      ['red apples are sweet', 'quantum physics lecture'],
      { dims: 16 },
    );
    const econSegs = await seedSegments(
      db,
      alice.id,
      economy,
      await seedDocument(db, alice.id, economy),
      ['apples and pears in a basket', 'nothing related here'],
      { dims: null },
    );
    const embeddingsBefore = openai.requestsTo('embeddings').length;
    const hits = await t.app.get(RetrievalService).retrieve(alice.id, {
      datasetIds: [small, large, economy, randomUUID()],
      query: 'red apples',
      strategy: 'semantic',
      k: 10,
      score: 0.3,
      source: 'app',
      appId: randomUUID(),
    });
    // One embedding per model; the economy dataset is searched by keywords.
    const calls = openai.requestsTo('embeddings').slice(embeddingsBefore);
    expect(calls.map((c) => c.body.model).sort()).toEqual([LARGE, SMALL]);
    const ids = hits.map((h) => h.id);
    expect(ids).toContain(smallSegs.get('red apples grow on trees'));
    expect(ids).toContain(largeSegs.get('red apples are sweet'));
    expect(ids).toContain(econSegs.get('apples and pears in a basket'));
    expect(ids).not.toContain(econSegs.get('nothing related here'));
    const scores = hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const large16 = hits.find((h) => h.id === largeSegs.get('red apples are sweet'))!;
    expect(large16.score).toBeCloseTo(
      cosine(fakeEmbedding('red apples', 16), fakeEmbedding('red apples are sweet', 16)),
      5,
    );
    const plan = await db.transaction(async (m) => {
      await forceIndexPath(m);
      return repo.explainSemantic(
        { accountId: alice.id, datasetIds: [large], k: 3 },
        fakeEmbedding('red apples', 16),
        m,
      );
    });
    expect(plan).toMatch(/Index Scan using idx_segments_embedding_16 on segments/);
    const logged = await db.query<
      Array<{ dataset_id: string; source: string; source_app_id: string }>
    >(
      `SELECT dataset_id, source, source_app_id FROM dataset_queries WHERE dataset_id = ANY($1::uuid[])`,
      [[small, large, economy]],
    );
    expect(logged).toHaveLength(3);
    expect(logged.every((r) => r.source === 'app' && r.source_app_id)).toBe(true);
  });

  it('counts hits on segments and their documents', async () => {
    const datasetId = await seedDataset(db, alice.id);
    const documentId = await seedDocument(db, alice.id, datasetId);
    const segs = await seedSegments(db, alice.id, datasetId, documentId, [
      'violin concerto in d',
      'violin sonata',
      'drum solo',
    ]);
    const body = { query: 'violin', retrieval_strategy: 'full_text', k: 10, score: 0 };
    const first = await hit(alice, datasetId, body);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.data.every((h: { hit_count: number }) => h.hit_count === 1)).toBe(true);
    await Promise.all([hit(alice, datasetId, body), hit(alice, datasetId, body)]);
    const rows = await db.query<Array<{ id: string; hit_count: number }>>(
      `SELECT id, hit_count FROM segments WHERE document_id = $1`,
      [documentId],
    );
    const count = new Map(rows.map((r) => [r.id, r.hit_count]));
    expect(count.get(segs.get('violin concerto in d')!)).toBe(3);
    expect(count.get(segs.get('violin sonata')!)).toBe(3);
    expect(count.get(segs.get('drum solo')!)).toBe(0);
    const [doc] = await db.query(`SELECT hit_count FROM documents WHERE id = $1`, [documentId]);
    expect(doc.hit_count).toBe(3); // once per retrieval that returned its segments
  });

  it('lists the latest 10 queries, newest first', async () => {
    const datasetId = await seedDataset(db, alice.id);
    for (let i = 1; i <= 12; i++) {
      const res = await hit(alice, datasetId, {
        query: `query ${i}`,
        retrieval_strategy: 'full_text',
        k: 1,
        score: 0,
      });
      expect(res.body.code).toBe('success');
    }
    const res = await t.http().get(`/datasets/${datasetId}/queries`).set(alice.auth);
    expect(res.body.code).toBe('success');
    expect(res.body.data.map((q: { query: string }) => q.query)).toEqual(
      Array.from({ length: 10 }, (_, i) => `query ${12 - i}`),
    );
    expect(res.body.data[0]).toEqual({
      id: expect.any(String),
      dataset_id: datasetId,
      query: 'query 12',
      source: 'hit_testing',
      created_at: expect.any(Number),
    });
    const empty = await t.http().get(`/datasets/${randomUUID()}/queries`).set(alice.auth);
    expect(empty.body.code).toBe('not_found');
  });

  it('validates the hit-testing body', async () => {
    const ok = { query: 'cats', retrieval_strategy: 'semantic', k: 3, score: 0 };
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ ...ok, query: 'x'.repeat(201) }, 'query'],
      [{ ...ok, query: '' }, 'query'],
      [{ ...ok, retrieval_strategy: 'keyword' }, 'retrieval_strategy'],
      [{ ...ok, retrieval_strategy: undefined }, 'retrieval_strategy'],
      [{ ...ok, k: 0 }, 'k'],
      [{ ...ok, k: 11 }, 'k'],
      [{ ...ok, k: 2.5 }, 'k'],
      [{ ...ok, k: undefined }, 'k'],
      [{ ...ok, score: 1 }, 'score'],
      [{ ...ok, score: -0.1 }, 'score'],
      [{ ...ok, score: '0.5' }, 'score'],
    ];
    for (const [body, field] of bad) {
      const res = await hit(alice, main.datasetId, body);
      expect(res.body.code).toBe('validate_error');
      expect(Object.keys(res.body.data)).toContain(field);
    }
    for (const score of [0, 0.99, 0.5]) {
      const res = await hit(alice, main.datasetId, { ...ok, score });
      expect(res.body.code).toBe('success');
    }
    const noScore = await hit(alice, main.datasetId, { ...ok, score: undefined });
    expect(noScore.body.code).toBe('success');
    expect(noScore.body.data).toHaveLength(3);
    const badId = await hit(alice, 'not-a-uuid', ok);
    expect(badId.body.code).toBe('not_found');
  });

  describe('ensureVectorIndex', () => {
    it('creates each index once under concurrency, vector up to 2000 dims and halfvec above', async () => {
      // Fresh instances: no in-memory cache, as two processes meeting a new model.
      const repos = Array.from({ length: 4 }, () => new RetrievalRepository(db));
      await Promise.all(repos.map((r) => r.ensureVectorIndex(24)));
      await Promise.all(repos.map((r) => r.ensureVectorIndex(3072)));
      const rows = await db.query<Array<{ indexname: string; indexdef: string }>>(
        `SELECT indexname, indexdef FROM pg_indexes
         WHERE indexname IN ('idx_segments_embedding_24', 'idx_segments_embedding_3072') ORDER BY indexname`,
      );
      expect(rows.map((r) => r.indexname)).toEqual([
        'idx_segments_embedding_24',
        'idx_segments_embedding_3072',
      ]);
      expect(rows[0].indexdef).toMatch(/vector\(24\)\) vector_cosine_ops/);
      expect(rows[1].indexdef).toMatch(
        /halfvec\(3072\)\) halfvec_cosine_ops.*WHERE \(embedding_dims = 3072\)/,
      );

      // A 3072-dimension search uses the halfvec index.
      const plan = await db.transaction(async (m) => {
        await forceIndexPath(m);
        return repo.explainSemantic(
          { accountId: alice.id, datasetIds: [main.datasetId], k: 3 },
          fakeEmbedding('x', 3072),
          m,
        );
      });
      expect(plan).toMatch(/Index Scan using idx_segments_embedding_3072/);

      for (const dims of [0, -1, 1.5, 16001, Number.NaN]) {
        expect(() => repos[0].ensureVectorIndex(dims)).toThrow(/Invalid embedding dimensions/);
      }
    });
  });
});

describe('retrieval on PGlite (embedded mode)', () => {
  let pglite: PGlite;
  let ds: DataSource;

  beforeAll(async () => {
    pglite = await PGlite.create({ extensions: { vector, pg_trgm } });
    ds = new DataSource(buildDataSourceOptions({ pglite }));
    await ds.initialize();
    await runMigrations(ds, { useLock: false });
  }, 60_000);
  afterAll(async () => {
    await ds?.destroy();
    await pglite?.close();
  });

  it('indexes, searches by meaning, by keywords and both, and records hits', async () => {
    const repo = new RetrievalRepository(ds);
    await repo.ensureVectorIndex(8);
    await repo.ensureVectorIndex(8);
    const accountId = randomUUID();
    const datasetId = await seedDataset(ds, accountId);
    const documentId = await seedDocument(ds, accountId, datasetId);
    const segs = await seedSegments(ds, accountId, datasetId, documentId, [...ENGLISH, ...CHINESE]);
    const scope = { accountId, datasetIds: [datasetId], k: 3 };

    const sem = await repo.semantic(scope, fakeEmbedding('cats purr softly on the sofa', 8));
    expect(sem[0].id).toBe(segs.get('cats purr softly on the sofa'));
    const plan = await ds.transaction(async (m) => {
      await forceIndexPath(m);
      return repo.explainSemantic(scope, fakeEmbedding('cats purr', 8), m);
    });
    expect(plan).toMatch(/Index Scan using idx_segments_embedding_8/);

    const text = await repo.fullText(scope, searchQuery('知识库'));
    expect(text.map((h) => h.id)).toEqual([segs.get('北京大学的知识库很大')]);

    const hybrid = await repo.hybrid(
      scope,
      fakeEmbedding('stock market', 8),
      searchQuery('stock market'),
      20,
    );
    expect(hybrid[0].id).toBe(segs.get('the stock market crashed today'));

    const counts = await repo.recordRetrieval({
      accountId,
      datasetIds: [datasetId],
      segmentIds: [hybrid[0].id],
      query: 'stock market',
      source: 'hit_testing',
      appId: null,
    });
    expect(counts.get(hybrid[0].id)).toBe(1);
    const queries = await repo.recentQueries(accountId, datasetId, 10);
    expect(queries.map((q) => q.query)).toEqual(['stock market']);
  });
});
