import { createTestApp, TestApp } from '@test/support/app-factory';
import { JobQueue } from '@app/queue';
import { createAccount, TestAccount } from '@test/support/auth';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';

// A 1x1 transparent PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const ELF = Buffer.concat([
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
  Buffer.alloc(120, 1),
]);
const SVG =
  '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>alert(1)</script></svg>';
const MAX = 4096;

describe('Uploads (/upload-files)', () => {
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;
  let storageDir: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { UPLOAD_MAX_BYTES: String(MAX) } });
    storageDir = t.config.storageDir;
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(() => t.close());

  const upload = (
    who: TestAccount,
    route: 'file' | 'image',
    content: Buffer | string,
    name: string,
    field = 'file',
  ) =>
    t.http().post(`/upload-files/${route}`).set(who.auth).attach(field, Buffer.from(content), name);
  const rows = async (accountId: string) =>
    Number(
      (
        await t.app
          .get(DataSource)
          .query('SELECT count(*) AS n FROM upload_files WHERE account_id = $1', [accountId])
      )[0].n,
    );
  const filesOf = (accountId: string): string[] => {
    try {
      return readdirSync(path.join(storageDir, 'files', 'uploads', accountId)).filter(
        (f) => !f.startsWith('.'),
      );
    } catch {
      return [];
    }
  };

  it('stores a document with its hash, size and sniffed type, answering HTTP 200 (never 201)', async () => {
    const res = await upload(a, 'file', PDF, 'dir/../Quarterly report.PDF');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: 'success', message: 'File uploaded' });
    const d = res.body.data;
    expect(d).toEqual({
      id: expect.any(String),
      account_id: a.id,
      name: 'Quarterly report.PDF',
      key: expect.stringMatching(new RegExp(`^uploads/${a.id}/[0-9a-f-]{36}\\.pdf$`)),
      size: PDF.length,
      extension: 'pdf',
      mime_type: 'application/pdf',
      hash: createHash('sha256').update(PDF).digest('hex'),
      created_at: expect.any(Number),
    });
    const got = await t.http().get(`/upload-files/${d.id}`).set(a.auth);
    expect(got.body.data).toEqual(d);
    const content = await t.http().get(`/upload-files/${d.id}/content`).set(a.auth).buffer(true);
    expect(content.status).toBe(200);
    expect(content.headers['content-type']).toBe('application/pdf');
    expect(content.headers['content-disposition']).toContain(
      "filename*=UTF-8''Quarterly%20report.PDF",
    );
    expect(Buffer.from(content.body as Buffer).equals(PDF)).toBe(true);
  });

  it('accepts UTF-8 text formats and refuses binaries dressed as text', async () => {
    for (const [name, body] of [
      ['notes.md', '# 标题\n\nSome text'],
      ['rows.csv', 'a,b\n1,2\n'],
      ['page.html', '<html><body><p>hi</p></body></html>'],
      ['data.json', '{"a":1}'],
      ['plain.txt', 'hello'],
    ] as const) {
      const res = await upload(a, 'file', body, name);
      expect({ name, code: res.body.code }).toEqual({ name, code: 'success' });
    }
    const before = { rows: await rows(a.id), files: filesOf(a.id).length };
    for (const [name, body] of [
      ['evil.txt', ELF],
      ['latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
      ['image.pdf', PNG],
      ['fake.docx', 'just text'],
    ] as const) {
      const res = await upload(a, 'file', body, name);
      expect(res.status).toBe(200);
      expect(res.body.code).toBe('validate_error');
      expect(res.body.message).toMatch(
        new RegExp(`The content of "${name.replace('.', '\\.')}" is not`),
      );
      expect(res.body.data).toEqual({ file: [res.body.message] });
    }
    expect({ rows: await rows(a.id), files: filesOf(a.id).length }).toEqual(before);
  });

  it('refuses other extensions, a missing file, an empty file and a file over the limit, keeping nothing', async () => {
    const before = { rows: await rows(a.id), files: filesOf(a.id).length };
    const exe = await upload(a, 'file', 'MZ', 'setup.exe');
    expect(exe.body).toMatchObject({ code: 'validate_error' });
    expect(exe.body.message).toMatch(/"\.exe" are not accepted here; use \.txt, .*\.pdf/);
    const img = await upload(a, 'image', PDF, 'x.pdf');
    expect(img.body.message).toMatch(/"\.pdf" are not accepted here; use \.jpg, \.jpeg, \.png/);
    const none = await t.http().post('/upload-files/file').set(a.auth).field('name', 'x');
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({
      code: 'validate_error',
      message: 'file is required (a multipart field named "file")',
    });
    const empty = await upload(a, 'file', '', 'empty.txt');
    expect(empty.body).toMatchObject({ code: 'validate_error', message: 'The file is empty' });
    const big = await upload(a, 'file', 'x'.repeat(MAX + 1), 'big.txt');
    expect(big.status).toBe(200);
    expect(big.body).toMatchObject({
      code: 'validate_error',
      message: 'The file is larger than 0 MB',
    });
    const wayBig = await upload(a, 'file', 'x'.repeat(MAX * 50), 'huge.txt');
    expect(wayBig.status).toBe(200);
    expect(wayBig.body).toMatchObject({
      code: 'validate_error',
      message: 'The file is larger than 0 MB',
    });
    const twoFiles = await t
      .http()
      .post('/upload-files/file')
      .set(a.auth)
      .attach('file', Buffer.from('a'), 'a.txt')
      .attach('file', Buffer.from('b'), 'b.txt');
    expect(twoFiles.status).toBe(200);
    expect(twoFiles.body.code).toBe('validate_error');
    const wrongField = await upload(a, 'file', 'x', 'x.txt', 'document');
    expect(wrongField.body).toMatchObject({ code: 'validate_error' });
    expect(wrongField.body.message).toMatch(
      /multipart field named "file" \(Unexpected (file )?field/,
    );
    expect({ rows: await rows(a.id), files: filesOf(a.id).length }).toEqual(before);
  });

  it('gives images an absolute public URL a browser loads without a token, served inert', async () => {
    const res = await upload(a, 'image', PNG, 'avatar.png');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: 'success', message: 'Image uploaded' });
    const url = new URL(res.body.data.image_url as string);
    expect(url.origin).toBe(t.url);
    expect(url.pathname).toMatch(/^\/upload-files\/images\/[A-Za-z0-9_-]{43}\.png$/);
    const img = await t.http().get(url.pathname).buffer(true);
    expect(img.status).toBe(200);
    expect(img.headers['content-type']).toBe('image/png');
    expect(img.headers['x-content-type-options']).toBe('nosniff');
    expect(Buffer.from(img.body as Buffer).equals(PNG)).toBe(true);
    // The avatar route takes it as is (a URL without a TLD passes).
    const avatar = await t.http().post('/account/avatar').set(a.auth).send({ avatar: url.href });
    expect(avatar.body.code).toBe('success');

    const svg = await upload(a, 'image', SVG, 'logo.svg');
    const svgPath = new URL(svg.body.data.image_url as string).pathname;
    const served = await t.http().get(svgPath).buffer(true);
    expect(served.headers['content-type']).toBe('image/svg+xml');
    expect(served.headers['content-security-policy']).toContain('sandbox');
    expect(served.headers['content-security-policy']).toContain("default-src 'none'");

    const notSvg = await upload(a, 'image', '<html><script>1</script></html>', 'trick.svg');
    expect(notSvg.body).toMatchObject({
      code: 'validate_error',
      message: 'The content of "trick.svg" is not an SVG image',
    });
    const guessed = await t.http().get(`/upload-files/images/${'A'.repeat(43)}.png`);
    expect(guessed.status).toBe(200); // the console API answers 200 with the code
    expect(guessed.body).toMatchObject({ code: 'not_found', message: 'The image does not exist' });
  });

  it('uses PUBLIC_BASE_URL for image URLs when configured', async () => {
    const t2 = await createTestApp({ env: { PUBLIC_BASE_URL: 'https://llmops.example.com/' } });
    try {
      const c = await createAccount(t2);
      const res = await t2
        .http()
        .post('/upload-files/image')
        .set(c.auth)
        .attach('file', PNG, 'p.png');
      expect(res.body.data.image_url).toMatch(
        /^https:\/\/llmops\.example\.com\/upload-files\/images\/[A-Za-z0-9_-]{43}\.png$/,
      );
    } finally {
      await t2.close();
    }
  });

  it("keeps each account's files to itself", async () => {
    const mine = await upload(a, 'file', 'secret notes', 'mine.txt');
    const id = mine.body.data.id as string;
    for (const p of [`/upload-files/${id}`, `/upload-files/${id}/content`]) {
      const res = await t.http().get(p).set(b.auth);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ code: 'not_found', message: 'The file does not exist' });
    }
    expect((await t.http().get(`/upload-files/${randomUUID()}`).set(a.auth)).body.code).toBe(
      'not_found',
    );
    expect((await t.http().get(`/upload-files/${id}`)).body.code).toBe('unauthorized');
    expect(
      (await t.http().post('/upload-files/file').attach('file', Buffer.from('x'), 'x.txt')).body
        .code,
    ).toBe('unauthorized');
  });
});

describe('Upload quota and clean-up of unattached uploads', () => {
  const QUOTA = 3000;
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;

  beforeAll(async () => {
    t = await createTestApp({ env: { UPLOAD_QUOTA_BYTES: String(QUOTA) } });
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(() => t.close());

  const upload = (who: TestAccount, bytes: number, name = 'n.txt') =>
    t
      .http()
      .post('/upload-files/file')
      .set(who.auth)
      .attach('file', Buffer.from('x'.repeat(bytes)), name);
  const sql = <T>(q: string, params: unknown[] = []) => t.app.get(DataSource).query<T>(q, params);
  const storedFiles = (accountId: string): string[] => {
    try {
      return readdirSync(path.join(t.config.storageDir, 'files', 'uploads', accountId)).filter(
        (f) => !f.startsWith('.'),
      );
    } catch {
      return [];
    }
  };

  it("holds each account's total under UPLOAD_QUOTA_BYTES, also under concurrent uploads", async () => {
    // Ten concurrent uploads of 700 bytes: four fit in 3000, the rest are refused and kept nowhere.
    const results = await Promise.all(Array.from({ length: 10 }, () => upload(a, 700)));
    const ok = results.filter((r) => r.body.code === 'success');
    expect(ok).toHaveLength(4);
    for (const r of results.filter((x) => x.body.code !== 'success')) {
      expect(r.body).toMatchObject({ code: 'validate_error' });
      expect(r.body.message).toMatch(
        /^Your uploads would use 3\.\d KB of the 2\.9 KB allowed: delete documents or datasets/,
      );
    }
    expect(storedFiles(a.id)).toHaveLength(4);
    // Another account has its own room.
    expect((await upload(b, 2900)).body.code).toBe('success');
  });

  it('deletes document uploads no document uses once a day old, keeping used ones and images', async () => {
    const c = await createAccount(t);
    const [old, used, fresh] = await Promise.all(
      [0, 1, 2].map(async (i) => (await upload(c, 10, `f${i}.txt`)).body.data.id as string),
    );
    const ds = await t.http().post('/datasets').set(c.auth).send({
      name: 'Docs',
      description: 'Docs',
      indexing_mode: 'economy',
    });
    const docs = await t
      .http()
      .post(`/datasets/${ds.body.data.id}/documents`)
      .set(c.auth)
      .send({ upload_file_ids: [used], process_type: 'automatic' });
    expect(docs.body.code).toBe('success');
    await sql(
      `UPDATE upload_files SET created_at = now() - interval '25 hours' WHERE id = ANY($1)`,
      [[old, used]],
    );
    const jobs = t.app.get(JobQueue);
    const job = await jobs.enqueue('dataset.clean-uploads', { older_than_hours: 24 });
    expect(await jobs.waitFor(job.id)).toMatchObject({ status: 'completed', result: { files: 1 } });
    const left = await sql<Array<{ id: string }>>(
      'SELECT id FROM upload_files WHERE account_id = $1 ORDER BY id',
      [c.id],
    );
    expect(left.map((r) => r.id).sort()).toEqual([used, fresh].sort());
    expect(storedFiles(c.id)).toHaveLength(2);
  });
});
