import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { collect, emitWithAck, SocketTracker } from '@test/support/socket-client';
import { eventually } from '@test/support/eventually';
import { JobQueue } from '@app/queue';
import {
  buildDoc,
  buildZip,
  docxEntries,
  smallSegments,
  textPdf,
} from '@test/support/document-fixtures';
import ExcelJS from 'exceljs';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';

const ZH =
  '大语言模型是一种人工智能技术。它可以理解和生成自然语言文本。知识库让模型引用你的文档来回答问题。';
const EN =
  'Retrieval augmented generation lets a model answer questions from your documents. Segments are embedded and searched by meaning.';

/** A markdown document of several paragraphs (Chinese and English) that splits into a few segments. */
function markdown(paragraphs = 12): string {
  const parts: string[] = ['# Knowledge base guide', ''];
  for (let i = 1; i <= paragraphs; i++) {
    parts.push(
      `## Section ${i}`,
      '',
      `${EN} Paragraph ${i} talks about topic${i}.`,
      '',
      `${ZH}第${i}段。`,
      '',
    );
  }
  return parts.join('\n');
}

/** Custom rules that cut a markdown() document into many small segments (one per paragraph). */
const SMALL_SEGMENTS = smallSegments({ separators: ['\n\n', '\n'], removeUrls: true });

describe('Datasets, documents and segments', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;
  const sockets = new SocketTracker();

  beforeAll(async () => {
    openai = await FakeOpenAI.create({ embeddingDimensions: 16 });
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        MODEL_MAX_RETRIES: '0',
        MODEL_TIMEOUT_MS: '5000',
        EMBEDDING_BATCH_SIZE: '4',
        // One embeddings request per committed chunk: the resume test counts what is redone.
        DATASET_INDEX_CHUNK: '4',
      },
    });
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(async () => {
    sockets.closeAll();
    await t?.close();
    await openai?.close();
  });
  afterEach(() => openai.reset());

  const get = (who: TestAccount, path: string) =>
    t
      .http()
      .get(path)
      .set(who.auth)
      .then((r) => r.body);
  const post = (who: TestAccount, path: string, body: object = {}) =>
    t
      .http()
      .post(path)
      .set(who.auth)
      .send(body)
      .then((r) => {
        expect(r.status).toBe(200);
        return r.body;
      });
  const sql = <T = any>(q: string, p: unknown[] = []): Promise<T[]> =>
    t.app.get(DataSource).query(q, p);

  async function upload(who: TestAccount, content: string | Buffer, name: string): Promise<string> {
    const r = await t
      .http()
      .post('/upload-files/file')
      .set(who.auth)
      .attach('file', Buffer.from(content), name);
    expect(r.body.code).toBe('success');
    return r.body.data.id as string;
  }

  async function newDataset(who: TestAccount, body: object = {}): Promise<any> {
    const r = await post(who, '/datasets', {
      name: `ds-${randomUUID().slice(0, 8)}`,
      icon: 'http://localhost:5000/i.png',
      ...body,
    });
    expect(r.code).toBe('success');
    return r.data;
  }

  /** Polls the batch like the console, until every document is completed or error. */
  async function waitForBatch(
    who: TestAccount,
    datasetId: string,
    batch: string,
    timeoutMs = 20_000,
  ): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await get(who, `/datasets/${datasetId}/documents/batch/${batch}`);
      expect(r.code).toBe('success');
      if (r.data.every((d: any) => d.status === 'completed' || d.status === 'error')) return r.data;
      if (Date.now() > deadline) throw new Error(`batch not finished: ${JSON.stringify(r.data)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async function indexed(
    who: TestAccount,
    datasetId: string,
    files: Array<[string | Buffer, string]>,
    extra: object = {},
  ) {
    const ids: string[] = [];
    for (const [content, name] of files) ids.push(await upload(who, content, name));
    const r = await post(who, `/datasets/${datasetId}/documents`, {
      upload_file_ids: ids,
      process_type: 'automatic',
      ...extra,
    });
    expect(r.code).toBe('success');
    return {
      batch: r.data.batch as string,
      documents: r.data.documents as any[],
      rows: await waitForBatch(who, datasetId, r.data.batch),
    };
  }

  describe('datasets', () => {
    it('creates with the original defaults, lists with counts and search, updates and keeps names unique', async () => {
      const name = `Handbook ${randomUUID().slice(0, 6)}`;
      const created = await post(a, '/datasets', {
        name: `  ${name} `,
        icon: 'http://localhost:5000/icon.png',
        fileList: [{ uid: 1 }],
      });
      expect(created).toMatchObject({ code: 'success', message: 'Dataset created' });
      expect(created.data).toEqual({
        id: expect.any(String),
        name,
        icon: 'http://localhost:5000/icon.png',
        description: `当你需要回答${name}的时候可以引用该知识库`,
        document_count: 0,
        hit_count: 0,
        related_app_count: 0,
        character_count: 0,
        indexing_mode: 'high_quality',
        embedding_model: 'openai/text-embedding-3-small',
        retrieval_config: { retrieval_strategy: 'semantic', k: 4, score: 0.5 },
        updated_at: expect.any(Number),
        created_at: expect.any(Number),
      });
      const dup = await post(a, '/datasets', { name, icon: 'http://x.test/i.png' });
      expect(dup).toMatchObject({
        code: 'validate_error',
        message: `A dataset named "${name}" already exists`,
      });
      // Another account may use the same name.
      expect((await post(b, '/datasets', { name, icon: 'http://x.test/i.png' })).code).toBe(
        'success',
      );

      const list = await get(
        a,
        `/datasets?search_word=${encodeURIComponent(name.slice(0, 12).toLowerCase())}&page_size=5`,
      );
      expect(list.data.paginator).toEqual({
        current_page: 1,
        page_size: 5,
        total_page: 1,
        total_record: 1,
      });
      expect(list.data.list[0].id).toBe(created.data.id);

      const upd = await post(a, `/datasets/${created.data.id}`, {
        name: `${name} v2`,
        icon: 'http://127.0.0.1/x.png',
        description: 'About HR',
      });
      expect(upd).toMatchObject({ code: 'success', message: 'Dataset updated' });
      expect(upd.data).toMatchObject({ name: `${name} v2`, description: 'About HR' });

      for (const [body, field] of [
        [{ name: '' }, 'name is required'],
        [{ name: 'x'.repeat(101) }, 'name must be at most 100 characters'],
        [{ name: 'ok', icon: 'javascript:alert(1)' }, 'icon must be an http(s) URL'],
        [
          { name: 'ok', description: 'd'.repeat(2001) },
          'description must be at most 2000 characters',
        ],
        [{ name: 'ok', indexing_mode: 'fast' }, 'indexing_mode must be high_quality or economy'],
        [
          { name: 'ok', embedding_model: 'openai/gpt-4o-mini' },
          '"openai/gpt-4o-mini" is a chat model, not an embedding model',
        ],
      ] as const) {
        const r = await post(a, '/datasets', body);
        expect({ body, code: r.code, message: r.message }).toEqual({
          body,
          code: 'validate_error',
          message: field,
        });
      }
    });

    it("answers not_found for another account's dataset on every route", async () => {
      const ds = await newDataset(a);
      const id = ds.id as string;
      const doc = randomUUID();
      for (const path of [
        `/datasets/${id}`,
        `/datasets/${id}/documents`,
        `/datasets/${id}/documents/${doc}`,
        `/datasets/${id}/documents/batch/20260101000000123456`,
        `/datasets/${id}/documents/${doc}/segments`,
      ]) {
        expect({ path, code: (await get(b, path)).code }).toEqual({ path, code: 'not_found' });
      }
      for (const [path, body] of [
        [`/datasets/${id}`, { name: 'stolen' }],
        [`/datasets/${id}/delete`, {}],
        [
          `/datasets/${id}/documents`,
          { upload_file_ids: [randomUUID()], process_type: 'automatic' },
        ],
        [`/datasets/${id}/documents/${doc}/name`, { name: 'x' }],
        [`/datasets/${id}/documents/${doc}/enabled`, { enabled: false }],
        [`/datasets/${id}/documents/${doc}/delete`, {}],
        [`/datasets/${id}/documents/${doc}/segments`, { content: 'x' }],
      ] as const) {
        expect({ path, code: (await post(b, path, body)).code }).toEqual({
          path,
          code: 'not_found',
        });
      }
      expect((await get(a, `/datasets/${id}`)).data.name).toBe(ds.name);
    });
  });

  describe('documents and indexing', () => {
    it('indexes a markdown file end to end: status steps, segments with vectors and keywords, socket events', async () => {
      const ds = await newDataset(a);
      const socket = await sockets.connect(t.url, a.access_token);
      const intruder = await sockets.connect(t.url, b.access_token);
      const events = collect<any>(socket, 'document_status_change');
      const overheard = collect<any>(intruder, 'document_status_change');
      // Slow embeddings, so the subscription below is in place while the job runs.
      openai.fallback = (req) =>
        req.endpoint === 'embeddings' ? { type: 'delay_headers', ms: 150 } : undefined;
      const uploadId = await upload(a, markdown(), 'guide.md');
      const created = await post(a, `/datasets/${ds.id}/documents`, {
        upload_file_ids: [uploadId],
        process_type: 'automatic',
      });
      const { batch, documents } = created.data as { batch: string; documents: any[] };
      const sub = { dataset_id: ds.id, batch };
      expect(await emitWithAck(socket, 'subscribe_document_batch', sub)).toMatchObject({
        ok: true,
      });
      // Another account may not listen to this batch.
      expect(await emitWithAck(intruder, 'subscribe_document_batch', sub)).toMatchObject({
        ok: false,
      });
      const rows = await waitForBatch(a, ds.id, batch);
      openai.fallback = undefined;
      expect(batch).toMatch(/^\d{20}$/);
      expect(documents).toEqual([
        {
          id: expect.any(String),
          name: 'guide.md',
          status: 'waiting',
          created_at: expect.any(Number),
        },
      ]);
      const [row] = rows;
      expect(row).toMatchObject({
        name: 'guide.md',
        extension: 'md',
        mime_type: 'text/markdown',
        position: 1,
        status: 'completed',
        error: '',
        stopped_at: 0,
      });
      expect(row.segment_count).toBeGreaterThan(1);
      expect(row.completed_segment_count).toBe(row.segment_count);
      for (const k of [
        'processing_started_at',
        'parsing_completed_at',
        'splitting_completed_at',
        'indexing_completed_at',
        'completed_at',
      ])
        expect(row[k]).toBeGreaterThan(0);

      const segs = await sql(
        'SELECT position, status, embedding_dims, embedding IS NOT NULL AS has_vec, search_vector IS NOT NULL AS has_tsv, keywords FROM segments WHERE document_id = $1 ORDER BY position',
        [row.id],
      );
      expect(segs).toHaveLength(row.segment_count);
      for (const s of segs)
        expect(s).toMatchObject({
          status: 'completed',
          embedding_dims: 16,
          has_vec: true,
          has_tsv: true,
        });
      expect(segs.every((s) => Array.isArray(s.keywords) && s.keywords.length > 0)).toBe(true);
      // Batched: 4 texts per embeddings request.
      const calls = openai.requestsTo('embeddings');
      expect(calls.length).toBe(Math.ceil(row.segment_count / 4));
      expect(calls.every((c) => (c.body.input as string[]).length <= 4)).toBe(true);

      const detail = await get(a, `/datasets/${ds.id}/documents/${row.id}`);
      expect(detail.data).toMatchObject({
        id: row.id,
        dataset_id: ds.id,
        segment_count: row.segment_count,
        enabled: true,
        status: 'completed',
      });
      expect(detail.data.character_count).toBeGreaterThan(100);
      const dsAfter = await get(a, `/datasets/${ds.id}`);
      expect(dsAfter.data).toMatchObject({
        document_count: 1,
        character_count: detail.data.character_count,
      });

      await new Promise((r) => setTimeout(r, 100));
      const mine = events.filter((e) => e.document_id === row.id);
      // The earliest steps may pass before the subscription lands; the slow ones do not.
      expect(mine.map((e) => e.status)).toEqual(expect.arrayContaining(['indexing', 'completed']));
      expect(overheard).toEqual([]);
      expect(mine[mine.length - 1]).toEqual({
        document_id: row.id,
        status: 'completed',
        progress: 100,
        error: null,
      });
    });

    it('indexes every document type (Chinese and English), and refuses .xls with a reason', async () => {
      const ds = await newDataset(a);
      const wb = new ExcelJS.Workbook();
      const sheet = wb.addWorksheet('价格表');
      sheet.addRow(['名称 Name', '价格 Price']);
      sheet.addRow(['苹果 Apple', 5]);
      const xlsx = Buffer.from(await wb.xlsx.writeBuffer());
      const { rows } = await indexed(a, ds.id, [
        [textPdf(), 'manual.pdf'],
        [buildZip(docxEntries()), 'guide.docx'],
        [buildDoc('旧版文档 Legacy Word document text'), 'legacy.doc'],
        [
          '<html><head><script>evil()</script></head><body><h1>网页标题 Web title</h1><p>Body text</p></body></html>',
          'page.html',
        ],
        ['name,city\n张三,北京\nAlice,London\n', 'people.csv'],
        [xlsx, 'prices.xlsx'],
        [buildDoc('not really a spreadsheet'), 'old.xls'],
      ]);
      const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
      for (const name of [
        'manual.pdf',
        'guide.docx',
        'legacy.doc',
        'page.html',
        'people.csv',
        'prices.xlsx',
      ])
        expect({ name, status: byName[name].status, error: byName[name].error }).toEqual({
          name,
          status: 'completed',
          error: '',
        });
      expect(byName['old.xls'].status).toBe('error');
      expect(byName['old.xls'].error).toMatch(/\.xlsx/);
      const text = async (name: string) =>
        (
          await sql<{ t: string }>(
            `SELECT string_agg(content, ' ' ORDER BY position) AS t FROM segments WHERE document_id = $1`,
            [byName[name].id],
          )
        )[0].t;
      expect(await text('manual.pdf')).toContain('Hello PDF world');
      expect(await text('guide.docx')).toContain('知识库支持全文检索');
      expect(await text('legacy.doc')).toContain('旧版文档');
      expect(await text('page.html')).toContain('网页标题');
      expect(await text('page.html')).not.toContain('evil');
      expect(await text('people.csv')).toMatch(/name: 张三; city: 北京/);
      expect(await text('prices.xlsx')).toContain('苹果 Apple');
      // A Chinese query finds Chinese text by keywords.
      const hit = await post(a, `/datasets/${ds.id}/hit`, {
        query: '全文检索',
        retrieval_strategy: 'full_text',
        k: 3,
        score: 0,
      });
      expect(hit.code).toBe('success');
      expect(hit.data[0].document.name).toBe('guide.docx');
    });

    it('validates custom rules and file ids, ignoring files that are not usable documents', async () => {
      const ds = await newDataset(a);
      const good = await upload(a, 'hello world', 'a.txt');
      const base = { upload_file_ids: [good], process_type: 'custom' };
      const segment = { separators: ['\n\n', '\n'], chunk_size: 200, chunk_overlap: 20 };
      const pre = [
        { id: 'remove_extra_space', enabled: true },
        { id: 'remove_url_and_email', enabled: false },
      ];
      for (const [body, message] of [
        [base, 'rule is required when process_type is custom'],
        [
          {
            ...base,
            rule: { pre_process_rules: pre, segment: { ...segment, chunk_overlap: 101 } },
          },
          'chunk_overlap must be at most half of chunk_size (100)',
        ],
        [
          { ...base, rule: { pre_process_rules: pre, segment: { ...segment, chunk_size: 99 } } },
          'segment.chunk_size must be at least 100',
        ],
        [
          { ...base, rule: { pre_process_rules: [pre[0]], segment } },
          'pre_process_rules must list remove_extra_space and remove_url_and_email once each',
        ],
        [
          { ...base, rule: { pre_process_rules: pre, segment: { ...segment, separators: ['('] } } },
          'The separator "(" is not a valid regular expression',
        ],
        [
          {
            ...base,
            rule: { pre_process_rules: pre, segment: { ...segment, separators: ['(?=x)'] } },
          },
          'The separator "(?=x)" uses lookaround or backreferences, which separators do not support',
        ],
        [
          { upload_file_ids: [], process_type: 'automatic' },
          'upload_file_ids must have at least one file',
        ],
        [
          {
            upload_file_ids: Array.from({ length: 11 }, () => randomUUID()),
            process_type: 'automatic',
          },
          'upload_file_ids may have at most 10 files',
        ],
        [
          { upload_file_ids: [good], process_type: 'magic' },
          'process_type must be automatic or custom',
        ],
      ] as const) {
        const r = await post(a, `/datasets/${ds.id}/documents`, body);
        expect({ message: r.message, code: r.code }).toEqual({ message, code: 'validate_error' });
      }
      const image = (
        await t
          .http()
          .post('/upload-files/image')
          .set(a.auth)
          .attach('file', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'x.svg')
      ).body.data.id;
      const theirs = await upload(b, 'theirs', 'b.txt');
      const none = await post(a, `/datasets/${ds.id}/documents`, {
        upload_file_ids: [image, theirs, randomUUID()],
        process_type: 'automatic',
      });
      expect(none).toMatchObject({
        code: 'fail',
        message:
          'None of these files can be added: upload documents with POST /upload-files/file first',
      });
      expect(await sql('SELECT id FROM documents WHERE dataset_id = $1', [ds.id])).toEqual([]);

      const custom = await post(a, `/datasets/${ds.id}/documents`, {
        upload_file_ids: [good, good],
        process_type: 'custom',
        rule: { pre_process_rules: pre, segment },
      });
      expect(custom.code).toBe('success');
      expect(custom.data.documents).toHaveLength(1);
      const [doc] = await sql('SELECT process_rule FROM documents WHERE id = $1', [
        custom.data.documents[0].id,
      ]);
      expect(doc.process_rule).toEqual({ pre_process_rules: pre, segment });
      await waitForBatch(a, ds.id, custom.data.batch);
    });

    it('puts a corrupt file in error with a message to act on, and nothing else breaks', async () => {
      const ds = await newDataset(a);
      const pdf = Buffer.from('%PDF-1.4\n%garbage that is not a pdf body at all\n');
      const { rows } = await indexed(a, ds.id, [
        [pdf, 'broken.pdf'],
        ['A fine text document about retrieval.', 'fine.txt'],
      ]);
      expect(rows.map((r) => r.status)).toEqual(['error', 'completed']);
      expect(rows[0].error).toMatch(/broken\.pdf/);
      expect(rows[0].stopped_at).toBeGreaterThan(0);
      const toggle = await post(a, `/datasets/${ds.id}/documents/${rows[0].id}/enabled`, {
        enabled: false,
      });
      expect(toggle).toMatchObject({ code: 'forbidden' });
    });

    it('enables, disables, renames, lists and deletes documents', async () => {
      const ds = await newDataset(a);
      const { rows } = await indexed(a, ds.id, [
        ['first document text', 'one.txt'],
        ['second document text', 'two.txt'],
      ]);
      expect(rows.map((r) => r.position)).toEqual([1, 2]);
      const [one, two] = rows;
      const off = await post(a, `/datasets/${ds.id}/documents/${one.id}/enabled`, {
        enabled: 'false',
      });
      expect(off).toMatchObject({ code: 'success', message: 'Document status updated' });
      expect(
        (await post(a, `/datasets/${ds.id}/documents/${one.id}/enabled`, { enabled: false }))
          .message,
      ).toBe('The document is already disabled');
      const listed = await get(a, `/datasets/${ds.id}/documents?search_word=one`);
      expect(listed.data.list).toEqual([
        expect.objectContaining({
          id: one.id,
          name: 'one.txt',
          enabled: false,
          disabled_at: expect.any(Number),
          status: 'completed',
        }),
      ]);
      expect(listed.data.list[0].disabled_at).toBeGreaterThan(0);
      expect(
        (await post(a, `/datasets/${ds.id}/documents/${two.id}/name`, { name: '  Two  ' })).message,
      ).toBe('Document renamed');
      expect((await get(a, `/datasets/${ds.id}/documents/${two.id}`)).data.name).toBe('Two');

      const del = await post(a, `/datasets/${ds.id}/documents/${two.id}/delete`);
      expect(del).toMatchObject({ code: 'success', message: 'Document deleted' });
      expect((await get(a, `/datasets/${ds.id}/documents/${two.id}`)).code).toBe('not_found');
      await waitFor(
        async () =>
          (await sql('SELECT count(*)::int AS n FROM segments WHERE document_id = $1', [two.id]))[0]
            .n === 0,
      );
      await waitFor(
        async () =>
          (
            await sql(
              'SELECT count(*)::int AS n FROM upload_files WHERE id = (SELECT upload_file_id FROM documents WHERE id = $1)',
              [one.id],
            )
          )[0].n === 1,
      );
    });

    it('indexes in economy mode with no embedding model at all', async () => {
      const ds = await newDataset(a, { indexing_mode: 'economy' });
      expect(ds).toMatchObject({ indexing_mode: 'economy', embedding_model: '' });
      const { rows } = await indexed(a, ds.id, [[markdown(3), 'eco.md']]);
      expect(rows[0].status).toBe('completed');
      expect(openai.requestsTo('embeddings')).toHaveLength(0);
      const [s] = await sql(
        'SELECT count(*)::int AS n, count(embedding)::int AS vec, count(search_vector)::int AS tsv FROM segments WHERE document_id = $1',
        [rows[0].id],
      );
      expect(s.n).toBeGreaterThan(0);
      expect(s).toEqual({ n: s.n, vec: 0, tsv: s.n });
    });

    it.each(['document', 'dataset'])(
      'stops indexing when its %s is deleted meanwhile: no more embeddings are paid for',
      async (deleted) => {
        const ds = await newDataset(a);
        // Slow embeddings (one request per chunk of 4 segments), so the delete lands mid-way.
        openai.enqueue(
          Array.from({ length: 40 }, () => ({ type: 'delay_headers' as const, ms: 150 })),
          { endpoint: 'embeddings' },
        );
        const id = await upload(a, markdown(40), 'deleted-midway.md');
        const r = await post(a, `/datasets/${ds.id}/documents`, {
          upload_file_ids: [id],
          ...SMALL_SEGMENTS,
        });
        const docId = r.data.documents[0].id as string;
        await eventually(
          () => Promise.resolve(openai.requestsTo('embeddings').length),
          (n) => n >= 2,
          10_000,
          20,
        );
        const del = await post(
          a,
          deleted === 'document'
            ? `/datasets/${ds.id}/documents/${docId}/delete`
            : `/datasets/${ds.id}/delete`,
        );
        expect(del.code).toBe('success');
        const job = async () =>
          (
            await sql<{ status: string }>(`SELECT status FROM queue_jobs WHERE key = $1`, [
              `${docId}:index`,
            ])
          )[0]?.status;
        const ended = await eventually(
          job,
          (st) => ['cancelled', 'completed', 'failed'].includes(st ?? ''),
          10_000,
          20,
        );
        expect(ended).toBe('cancelled');
        const sent = openai.requestsTo('embeddings').length;
        await new Promise((res) => setTimeout(res, 500));
        expect(openai.requestsTo('embeddings')).toHaveLength(sent);
        // 40 paragraphs make far more than the few chunks embedded before the delete.
        expect(sent).toBeLessThan(8);
      },
    );

    it('resumes where it stopped: a retry embeds only what the failed attempt left', async () => {
      const ds = await newDataset(a);
      // Small segments (many of them); the third embeddings request fails with a 500, so the
      // first attempt stops part-way and the job's retry must pick up from there.
      openai.enqueue([{ type: 'error', status: 500, message: 'upstream hiccup' }], {
        endpoint: 'embeddings',
        when: () => openai.requestsTo('embeddings').length === 3,
      });
      const id = await upload(a, markdown(30), 'long.md');
      const r = await post(a, `/datasets/${ds.id}/documents`, {
        upload_file_ids: [id],
        ...SMALL_SEGMENTS,
      });
      const [row] = await waitForBatch(a, ds.id, r.data.batch);
      expect(row.status).toBe('completed');
      expect(row.segment_count).toBeGreaterThan(12);
      const calls = openai.requestsTo('embeddings');
      const texts = calls.flatMap((c) => c.body.input as string[]);
      // Two batches of 4 done before the failure are not embedded again: every segment once,
      // plus the 4 of the failed request sent again.
      expect(texts.length).toBe(row.segment_count + 4);
      const [{ n, distinct }] = await sql(
        'SELECT count(*)::int AS n, count(DISTINCT position)::int AS distinct FROM segments WHERE document_id = $1',
        [row.id],
      );
      expect({ n, distinct }).toEqual({ n: row.segment_count, distinct: row.segment_count });
    });

    it('says what to do when the embedding model cannot be used, without retrying', async () => {
      // Gemini has no key in this app: the failure is the user's to fix, so it is not retried.
      const ds = await newDataset(a, { embedding_model: 'gemini/text-embedding-004' });
      const { rows } = await indexed(a, ds.id, [['some text to embed', 'x.txt']]);
      expect(rows[0].status).toBe('error');
      expect(rows[0].error).toMatch(/gemini|Gemini|credential|key/i);
      expect(rows[0].stopped_at).toBeGreaterThan(0);
      const [job] = await sql(
        `SELECT status, attempts FROM queue_jobs WHERE key = $1 ORDER BY created_at DESC LIMIT 1`,
        [`${rows[0].id}:index`],
      );
      expect(job).toMatchObject({ status: 'failed', attempts: 1 });
    });
  });

  describe('segments', () => {
    it('lists by position, edits with re-embedding and keyword extraction, toggles and deletes', async () => {
      const ds = await newDataset(a);
      const { rows } = await indexed(a, ds.id, [[markdown(6), 'seg.md']]);
      const doc = rows[0];
      const base = `/datasets/${ds.id}/documents/${doc.id}/segments`;
      const page = await get(a, `${base}?page_size=50`);
      expect(page.data.list.map((s: any) => s.position)).toEqual(
        Array.from({ length: doc.segment_count }, (_, i) => i + 1),
      );
      const first = page.data.list[0];
      expect(first).toEqual({
        id: expect.any(String),
        document_id: doc.id,
        dataset_id: ds.id,
        position: 1,
        content: expect.any(String),
        keywords: expect.any(Array),
        character_count: first.content.length,
        token_count: expect.any(Number),
        hit_count: 0,
        enabled: true,
        disabled_at: 0,
        status: 'completed',
        error: '',
        updated_at: expect.any(Number),
        created_at: expect.any(Number),
      });
      const one = await get(a, `${base}/${first.id}`);
      expect(one.data.hash).toMatch(/^[0-9a-f]{64}$/);
      expect((await get(a, `${base}?search_word=topic3`)).data.list.length).toBeGreaterThan(0);

      const added = await post(a, base, {
        content:
          'Vector databases index embeddings for similarity search. 向量数据库用于相似度搜索。',
        keywords: [],
      });
      expect(added).toMatchObject({ code: 'success', message: 'Segment added' });
      expect(added.data).toMatchObject({ position: doc.segment_count + 1, status: 'completed' });
      expect(added.data.keywords.length).toBeGreaterThan(0);
      const before = (
        await sql('SELECT embedding::text AS e FROM segments WHERE id = $1', [added.data.id])
      )[0].e;
      const edited = await post(a, `${base}/${added.data.id}`, {
        content: 'Completely different words now',
        keywords: ['mine', 'mine', ' x '],
      });
      expect(edited.data).toMatchObject({
        content: 'Completely different words now',
        keywords: ['mine', 'x'],
        status: 'completed',
      });
      const after = (
        await sql('SELECT embedding::text AS e FROM segments WHERE id = $1', [added.data.id])
      )[0].e;
      expect(after).not.toEqual(before);

      const tooLong = await post(a, base, { content: 'word '.repeat(1100) });
      expect(tooLong.code).toBe('validate_error');
      expect(tooLong.message).toMatch(/at most 1000 tokens/);
      const manyKeywords = await post(a, base, {
        content: 'x',
        keywords: Array.from({ length: 11 }, (_, i) => `k${i}`),
      });
      expect(manyKeywords.message).toBe('keywords may have at most 10 entries');

      // While the document indexes again (a retry or restart rebuilds its segments from the
      // file), its segments are neither edited, added nor deleted: the change would be undone.
      await sql(`UPDATE documents SET status = 'indexing' WHERE id = $1`, [doc.id]);
      const busyEdit = await post(a, `${base}/${added.data.id}`, { content: 'Lost edit' });
      expect(busyEdit).toMatchObject({
        code: 'fail',
        message: 'Segments can be edited once their document finished indexing',
      });
      expect((await post(a, `${base}/${added.data.id}/delete`)).message).toBe(
        'Segments can be deleted once their document finished indexing',
      );
      expect((await post(a, base, { content: 'Lost addition' })).code).toBe('fail');
      await sql(`UPDATE documents SET status = 'completed' WHERE id = $1`, [doc.id]);
      expect((await get(a, `${base}/${added.data.id}`)).data.content).toBe(
        'Completely different words now',
      );

      expect((await post(a, `${base}/${first.id}/enabled`, { enabled: false })).code).toBe(
        'success',
      );
      expect((await post(a, `${base}/${first.id}/enabled`, { enabled: false })).message).toBe(
        'The segment is already disabled',
      );
      expect((await post(a, `${base}/${first.id}/delete`)).message).toBe('Segment deleted');
      expect((await get(a, `${base}/${first.id}`)).code).toBe('not_found');
    });
  });

  it('indexes through BullMQ in scale mode too', async () => {
    const scale = await createTestApp({
      redis: true,
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        MODEL_MAX_RETRIES: '0',
      },
    });
    try {
      const who = await createAccount(scale);
      const ds = (
        await scale
          .http()
          .post('/datasets')
          .set(who.auth)
          .send({ name: 'scale', icon: 'http://127.0.0.1/i.png' })
      ).body.data;
      const up = await scale
        .http()
        .post('/upload-files/file')
        .set(who.auth)
        .attach('file', Buffer.from(markdown(3)), 's.md');
      const r = await scale
        .http()
        .post(`/datasets/${ds.id}/documents`)
        .set(who.auth)
        .send({ upload_file_ids: [up.body.data.id], process_type: 'automatic' });
      expect(r.body.code).toBe('success');
      let rows: any[] = [];
      for (const until = Date.now() + 20_000; ;) {
        rows = (
          await scale
            .http()
            .get(`/datasets/${ds.id}/documents/batch/${r.body.data.batch}`)
            .set(who.auth)
        ).body.data;
        if (rows.every((d) => d.status === 'completed' || d.status === 'error')) break;
        if (Date.now() > until) throw new Error(JSON.stringify(rows));
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(rows[0]).toMatchObject({ status: 'completed', error: '' });
      expect(rows[0].completed_segment_count).toBe(rows[0].segment_count);
    } finally {
      await scale.close();
    }
  });

  it('deleting a dataset removes it at once and leaves nothing behind', async () => {
    const ds = await newDataset(a);
    const { rows } = await indexed(a, ds.id, [[markdown(4), 'gone.md']]);
    const uploadId = (
      await sql('SELECT upload_file_id FROM documents WHERE id = $1', [rows[0].id])
    )[0].upload_file_id;
    const del = await post(a, `/datasets/${ds.id}/delete`);
    expect(del).toMatchObject({ code: 'success', message: 'Dataset deleted' });
    expect((await get(a, `/datasets/${ds.id}`)).code).toBe('not_found');
    await waitFor(async () => {
      const [c] = await sql(
        `SELECT (SELECT count(*) FROM segments WHERE dataset_id = $1)::int AS s,
                (SELECT count(*) FROM documents WHERE dataset_id = $1)::int AS d,
                (SELECT count(*) FROM dataset_queries WHERE dataset_id = $1)::int AS q,
                (SELECT count(*) FROM upload_files WHERE id = $2)::int AS f`,
        [ds.id, uploadId],
      );
      return c.s + c.d + c.q + c.f === 0;
    });
    const jobs = t.app.get(JobQueue);
    expect(jobs).toBeDefined();
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
