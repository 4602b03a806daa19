import { FakeOpenAI } from '@test/fakes/fake-openai';
import {
  freePort,
  MAIN,
  ROOT,
  serviceApi,
  signUpOverHttp,
  ServiceProcess,
  startService,
} from '@test/support/service-process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { smallSegments } from '@test/support/document-fixtures';

/**
 * A process killed (SIGKILL) in the middle of indexing: after a restart on the same storage the
 * job resumes, keeps what was committed, and finishes without duplicating a segment.
 */
describe('indexing survives a killed process (embedded mode, dist/main.js)', () => {
  let storage: string;
  let port: number;
  let openai: FakeOpenAI;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    storage = mkdtempSync(path.join(tmpdir(), 'llmops-restart-'));
    port = await freePort();
    openai = await FakeOpenAI.create({ embeddingDimensions: 8 });
    // Each embeddings request takes a while, so the kill lands mid-document.
    openai.fallback = (req) =>
      req.endpoint === 'embeddings' ? { type: 'delay_headers', ms: 150 } : undefined;
  }, 180_000);
  afterAll(async () => {
    if (service && service.proc.exitCode === null) service.proc.kill('SIGKILL');
    await openai?.close();
    rmSync(storage, { recursive: true, force: true });
  });

  const boot = () =>
    startService(
      {
        STORAGE_DIR: storage,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        MODEL_MAX_RETRIES: '0',
        EMBEDDING_BATCH_SIZE: '4',
        EMBEDDING_CONCURRENCY: '1',
        DATASET_INDEX_CHUNK: '4',
      },
      port,
    );
  const api = (method: string, path: string, token?: string, body?: unknown) =>
    serviceApi(port)(method, path, token, body);

  it('resumes after SIGKILL and ends with every segment once', async () => {
    service = await boot();
    const login = await signUpOverHttp(port, 'restart@example.test', 'passw0rd-restart');
    let token = await login();
    const ds = (
      await api('POST', '/datasets', token, { name: 'restart', icon: 'http://127.0.0.1/i.png' })
    ).data;

    // About 70 tokens a paragraph and 100-token segments: one segment per paragraph.
    const paragraphs = Array.from(
      { length: 40 },
      (_, i) =>
        `Paragraph ${i} about resumable indexing. ` +
        Array.from({ length: 12 }, (_, j) => `Sentence ${j} of part ${i} keeps going.`).join(' '),
    ).join('\n\n');
    const form = new FormData();
    form.append('file', new Blob([paragraphs]), 'resume.md');
    const up = await (
      await fetch(`http://127.0.0.1:${port}/upload-files/file`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: form,
      })
    ).json();
    expect(up.code).toBe('success');
    const r = await api('POST', `/datasets/${ds.id}/documents`, token, {
      upload_file_ids: [up.data.id],
      ...smallSegments({ separators: ['\n\n'], removeUrls: true }),
    });
    expect(r.code).toBe('success');

    // Kill once a few chunks are committed.
    const deadline = Date.now() + 30_000;
    while (openai.requestsTo('embeddings').length < 4) {
      if (Date.now() > deadline) {
        const batch = await api('GET', `/datasets/${ds.id}/documents/batch/${r.data.batch}`, token);
        throw new Error(`indexing did not start: ${JSON.stringify(batch)}\n${service.logs()}`);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    service.proc.kill('SIGKILL');
    await new Promise((res) => service!.proc.once('exit', res));
    const sentBefore = openai
      .requestsTo('embeddings')
      .flatMap((c) => c.body.input as string[]).length;

    service = await boot();
    token = await login();
    let rows: any[] = [];
    for (const until = Date.now() + 60_000; ;) {
      rows = (await api('GET', `/datasets/${ds.id}/documents/batch/${r.data.batch}`, token)).data;
      if (rows.every((d) => d.status === 'completed' || d.status === 'error')) break;
      if (Date.now() > until) throw new Error(`not finished: ${JSON.stringify(rows)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(rows[0]).toMatchObject({ status: 'completed', error: '' });
    const segments = rows[0].segment_count as number;
    expect(segments).toBeGreaterThanOrEqual(10);
    expect(rows[0].completed_segment_count).toBe(segments);
    const texts = openai.requestsTo('embeddings').flatMap((c) => c.body.input as string[]);
    // What was committed before the kill is not embedded again: at most the chunk in flight
    // (and the one being prepared) is redone.
    expect(sentBefore).toBeGreaterThanOrEqual(16);
    expect(texts.length).toBeLessThanOrEqual(segments + 8);
    const positions: number[] = [];
    for (let page = 1; page <= Math.ceil(segments / 50); page++) {
      const list = (
        await api(
          'GET',
          `/datasets/${ds.id}/documents/${rows[0].id}/segments?page_size=50&current_page=${page}`,
          token,
        )
      ).data;
      expect(list.paginator.total_record).toBe(segments);
      positions.push(...list.list.map((s: { position: number }) => s.position));
    }
    expect(positions).toEqual(Array.from({ length: segments }, (_, i) => i + 1));
    service.proc.kill('SIGTERM');
    await new Promise((res) => service!.proc.once('exit', res));
  }, 120_000);
});
