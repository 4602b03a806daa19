import { FakeHfHub } from '@test/fakes/fake-hf-hub';
import { FakeOllama } from '@test/fakes/fake-ollama';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';

/**
 * Model hub read routes against a fake Hugging Face hub and a fake Ollama on loopback: search
 * paging, model info with the tree's `Link` pagination, gated/missing repos, bad repo ids, and
 * HF_TOKEN only ever sent to the hub's origin.
 */

interface Envelope<T = Record<string, unknown>> {
  code: string;
  message: string;
  data: T;
}
interface HubModel {
  source: string;
  model_id: string;
  downloads: number;
  gated: boolean;
  size: number;
  tags: string[];
}
interface Page {
  list: HubModel[];
  paginator: { current_page: number; page_size: number; total_page: number; total_record: number };
}
interface Info extends HubModel {
  revision: string;
  files: Array<{ path: string; size: number; sha256: string; lfs: boolean }>;
  total_size: number;
  formats: string[];
  parameter_count: number | null;
  quantizations: string[];
  context_length: number | null;
  library_name: string;
}

describe('Model hub (e2e)', () => {
  let t: TestApp;
  let hub: FakeHfHub;
  let other: FakeHfHub; // another origin: must never see the token
  let ollama: FakeOllama;
  let acc: TestAccount;

  beforeAll(async () => {
    hub = await FakeHfHub.create();
    other = await FakeHfHub.create();
    ollama = await FakeOllama.create();
    for (let i = 1; i <= 7; i++) {
      hub.addRepo({
        id: `acme/tiny-model-${i}`,
        downloads: i * 100,
        files: [{ path: 'README.md', content: `# tiny ${i}` }],
      });
    }
    hub.addRepo({
      id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      downloads: 5,
      likes: 3,
      tags: ['gguf', 'text-generation'],
      pipeline_tag: 'text-generation',
      library_name: 'gguf',
      gguf: { total: 494_032_768, architecture: 'qwen2', context_length: 32_768 },
      files: [
        { path: '.gitattributes', content: '*.gguf filter=lfs' },
        { path: 'README.md', content: '# Qwen' },
        { path: 'qwen2.5-0.5b-instruct-q4_k_m.gguf', size: 4096 },
        { path: 'qwen2.5-0.5b-instruct-q8_0.gguf', size: 2048 },
        { path: 'fp16/qwen2.5-0.5b-instruct-fp16.gguf', size: 1024 },
        { path: 'onnx/model.safetensors', size: 512 },
      ],
    });
    hub.addRepo({
      id: 'meta-llama/Llama-3.2-1B',
      gated: true,
      files: [{ path: 'model.safetensors', size: 100 }],
    });
    t = await createTestApp({
      env: {
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        HF_ENDPOINT: hub.url,
        HF_TOKEN: hub.token,
        OLLAMA_BASE_URL: ollama.url,
      },
    });
    acc = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    await hub?.stop();
    await other?.stop();
    await ollama?.close();
  });
  beforeEach(() => {
    hub.requests.length = 0;
    other.requests.length = 0;
    hub.treePageSize = 1000;
    hub.linkOrigin = undefined;
    ollama.reset();
  });

  const get = async <T>(path: string, query: Record<string, unknown>): Promise<Envelope<T>> => {
    const res = await t.http().get(path).query(query).set(acc.auth);
    expect(res.status).toBe(200);
    return res.body as Envelope<T>;
  };

  it('searches Hugging Face page by page (sort, direction and limit sent to the hub)', async () => {
    const p1 = await get<Page>('/models/search', {
      source: 'huggingface',
      query: 'tiny',
      page_size: 3,
    });
    expect(p1.code).toBe('success');
    expect(p1.data.list.map((m) => m.model_id)).toEqual([
      'acme/tiny-model-7',
      'acme/tiny-model-6',
      'acme/tiny-model-5',
    ]);
    expect(p1.data.list[0]).toMatchObject({ source: 'huggingface', downloads: 700, gated: false });
    // The hub has more: one more page is announced.
    expect(p1.data.paginator).toEqual({
      current_page: 1,
      page_size: 3,
      total_page: 2,
      total_record: 4,
    });
    expect(hub.requests[0].query).toEqual({
      search: 'tiny',
      sort: 'downloads',
      direction: '-1',
      limit: '3',
    });

    const p3 = await get<Page>('/models/search', {
      source: 'huggingface',
      query: 'tiny',
      page_size: 3,
      current_page: 3,
      sort_by: 'downloads',
      sort_order: 'asc',
    });
    expect(p3.data.list.map((m) => m.model_id)).toEqual(['acme/tiny-model-7']);
    expect(p3.data.paginator).toMatchObject({ total_page: 3, total_record: 7 });
    expect(hub.requests[1].query).toMatchObject({ direction: '1', limit: '9' });
  });

  it('refuses a sort field the source has not, and pages beyond the hub limit', async () => {
    const bad = await get('/models/search', { source: 'huggingface', sort_by: 'size' });
    expect(bad.code).toBe('validate_error');
    const far = await get('/models/search', {
      source: 'huggingface',
      current_page: 30,
      page_size: 50,
    });
    expect(far.code).toBe('validate_error');
    const src = await get('/models/search', { source: 'civitai' });
    expect(src.code).toBe('validate_error');
    expect(hub.requests).toHaveLength(0);
  });

  it('describes a repo: files with sizes and sha256, formats, quantizations, context', async () => {
    hub.treePageSize = 2; // 7 entries (a directory included) over 4 Link-paginated pages
    const repo = hub.repos.get('Qwen/Qwen2.5-0.5B-Instruct-GGUF')!;
    const res = await get<Info>('/models/info', {
      source: 'huggingface',
      model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    });
    expect(res.code).toBe('success');
    const d = res.data;
    expect(d).toMatchObject({
      model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      revision: repo.sha,
      gated: false,
      formats: ['gguf', 'safetensors'],
      quantizations: ['FP16', 'Q4_K_M', 'Q8_0'],
      parameter_count: 494_032_768,
      context_length: 32_768,
      library_name: 'gguf',
      pipeline_tag: 'text-generation',
    });
    expect(d.files.map((f) => f.path)).toEqual(
      repo.files.map((f) => f.path).sort((a, b) => a.localeCompare(b)),
    );
    const q4 = d.files.find((f) => f.path.endsWith('q4_k_m.gguf'))!;
    const real = repo.files.find((f) => f.path.endsWith('q4_k_m.gguf'))!;
    expect(q4).toEqual({ path: real.path, size: 4096, sha256: real.sha256, lfs: true });
    expect(d.files.find((f) => f.path === 'README.md')).toMatchObject({ lfs: false, sha256: '' });
    expect(d.total_size).toBe(repo.files.reduce((s, f) => s + f.size, 0));
    const tree = hub.requestsTo('/api/models/Qwen/Qwen2.5-0.5B-Instruct-GGUF/tree/');
    expect(tree).toHaveLength(4);
    // The tree is pinned to the commit the info answered.
    expect(tree[0].path).toBe(`/api/models/Qwen/Qwen2.5-0.5B-Instruct-GGUF/tree/${repo.sha}`);
    expect(tree.map((r) => r.query.cursor)).toEqual([undefined, '2', '4', '6']);
  });

  it('maps a gated repo to forbidden without the token, and reads it with it', async () => {
    const saved = hub.token;
    hub.token = 'another-token'; // ours no longer opens it
    try {
      const res = await get('/models/info', {
        source: 'huggingface',
        model_id: 'meta-llama/Llama-3.2-1B',
      });
      expect(res.code).toBe('forbidden');
      expect(res.message).toContain('meta-llama/Llama-3.2-1B');
    } finally {
      hub.token = saved;
    }
    const ok = await get<Info>('/models/info', {
      source: 'huggingface',
      model_id: 'meta-llama/Llama-3.2-1B',
    });
    expect(ok.code).toBe('success');
    expect(ok.data).toMatchObject({ gated: true, formats: ['safetensors'] });
  });

  it('maps a missing repo or revision to not_found naming it', async () => {
    const res = await get('/models/info', { source: 'huggingface', model_id: 'acme/nope' });
    expect(res.code).toBe('not_found');
    expect(res.message).toContain('acme/nope');
    const rev = await get('/models/info', {
      source: 'huggingface',
      model_id: 'acme/tiny-model-1',
      revision: 'v9',
    });
    expect(rev.code).toBe('not_found');
  });

  it.each([
    'acme',
    'acme/tiny/extra',
    '../etc/passwd',
    'acme/..',
    'acme/%2e%2e',
    'acme/na me',
    '/acme/x',
    'http://evil/x',
  ])('refuses the repo id %j with validate_error and no hub call', async (id) => {
    const res = await get('/models/info', { source: 'huggingface', model_id: id });
    expect(res.code).toBe('validate_error');
    expect(hub.requests).toHaveLength(0);
  });

  it('refuses a bad revision', async () => {
    const res = await get('/models/info', {
      source: 'huggingface',
      model_id: 'acme/tiny-model-1',
      revision: '../../x',
    });
    expect(res.code).toBe('validate_error');
    expect(hub.requests).toHaveLength(0);
  });

  it('sends HF_TOKEN only to the hub origin', async () => {
    hub.treePageSize = 1;
    hub.linkOrigin = other.url; // the hub points the next tree page at another host
    const res = await get('/models/info', {
      source: 'huggingface',
      model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    });
    expect(res.code).toBe('fail');
    expect(res.message).toContain('another host');
    expect(hub.requests.length).toBeGreaterThan(0);
    for (const r of hub.requests) expect(r.headers.authorization).toBe(`Bearer ${hub.token}`);
    expect(other.requests).toHaveLength(0);
    await get('/models/search', { source: 'ollama' });
    expect(ollama.requests.length).toBeGreaterThan(0);
    for (const r of ollama.requests) expect(r.headers?.authorization).toBeUndefined();
  });

  it('filters and pages the local Ollama library', async () => {
    const all = await get<Page>('/models/search', { source: 'ollama', page_size: 3 });
    expect(all.code).toBe('success');
    expect(all.data.list.map((m) => m.model_id)).toEqual([
      'llama3.2:latest',
      'mxbai-embed-large:latest',
      'nomic-embed-text:latest',
    ]);
    expect(all.data.paginator).toEqual({
      current_page: 1,
      page_size: 3,
      total_page: 2,
      total_record: 4,
    });
    const embed = await get<Page>('/models/search', {
      source: 'ollama',
      query: 'EMBED',
      sort_order: 'desc',
    });
    expect(embed.data.list.map((m) => m.model_id)).toEqual([
      'nomic-embed-text:latest',
      'mxbai-embed-large:latest',
    ]);
    const bad = await get('/models/search', { source: 'ollama', sort_by: 'downloads' });
    expect(bad.code).toBe('validate_error');
  });

  it('describes a local Ollama model and maps a missing one to not_found', async () => {
    const res = await get<Info>('/models/info', { source: 'ollama', model_id: 'qwen3:8b' });
    expect(res.code).toBe('success');
    expect(res.data).toMatchObject({
      source: 'ollama',
      model_id: 'qwen3:8b',
      formats: ['gguf'],
      quantizations: ['Q4_K_M'],
      parameter_count: 3_212_749_888,
      context_length: 131_072,
    });
    expect(res.data.size).toBeGreaterThan(0);
    const missing = await get('/models/info', { source: 'ollama', model_id: 'nope:1b' });
    expect(missing.code).toBe('not_found');
    const bad = await get('/models/info', { source: 'ollama', model_id: '../x' });
    expect(bad.code).toBe('validate_error');
  });
});
