import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHfHub } from '@test/fakes/fake-hf-hub';
import { FakeOllama } from '@test/fakes/fake-ollama';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { buildGguf } from '@test/support/gguf-writer';
import { ModelRegistryService } from 'src/modules/download/registry/model-registry.service';
import { DataSource } from 'typeorm';

/**
 * The model registry: entries recorded by /models/info, by the downloader (recordLocal, with the
 * GGUF header read from the files) and by an Ollama sync; paging and filters, per-account
 * favorites, admin-only changes, stats, categories and trending.
 */

interface Envelope<T = Record<string, unknown>> {
  code: string;
  message: string;
  data: T;
}
interface Entry {
  id: string;
  source: string;
  model_id: string;
  format: string;
  pipeline_tag: string;
  parameter_count: number | null;
  quantization: string;
  context_length: number | null;
  size: number;
  status: string;
  local_path: string;
  is_favorite: boolean;
  downloads: number;
  last_synced_at: number;
}
interface Page<T = Entry> {
  list: T[];
  paginator: { current_page: number; page_size: number; total_page: number; total_record: number };
}
interface Count {
  name: string;
  count: number;
}

describe('Model registry (e2e)', () => {
  let t: TestApp;
  let hub: FakeHfHub;
  let ollama: FakeOllama;
  let member: TestAccount;
  let other: TestAccount;
  let admin: { Authorization: string };
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-e2e-'));
    hub = await FakeHfHub.create();
    ollama = await FakeOllama.create();
    for (let i = 1; i <= 5; i++) {
      hub.addRepo({
        id: `acme/tiny-${i}`,
        downloads: i * 10,
        pipeline_tag: i % 2 ? 'text-generation' : 'feature-extraction',
        files: [{ path: 'model.safetensors', size: 100 * i }],
      });
    }
    hub.addRepo({
      id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      downloads: 5,
      pipeline_tag: 'text-generation',
      gguf: { total: 494_032_768, architecture: 'qwen2', context_length: 32_768 },
      files: [{ path: 'qwen2.5-0.5b-instruct-q4_k_m.gguf', size: 4096 }],
    });
    t = await createTestApp({
      env: {
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        HF_ENDPOINT: hub.url,
        HF_TOKEN: hub.token,
        OLLAMA_BASE_URL: ollama.url,
      },
    });
    // The registry is machine-wide: start from an empty one.
    await t.app.get(DataSource).query('DELETE FROM model_favorites; DELETE FROM model_entries');
    // t.token sets the account's role (the first account of a database may be admin).
    const asRole = async (a: TestAccount, role: 'admin' | 'member') => ({
      Authorization: `Bearer ${await t.token(a.id, role)}`,
    });
    member = await createAccount(t);
    member.auth = await asRole(member, 'member');
    other = await createAccount(t);
    other.auth = await asRole(other, 'member');
    admin = await asRole(await createAccount(t), 'admin');
  });
  afterAll(async () => {
    await t?.close();
    await hub?.stop();
    await ollama?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = async <T>(
    path: string,
    query: Record<string, unknown> = {},
    auth = member.auth,
  ): Promise<Envelope<T>> => {
    const res = await t.http().get(path).query(query).set(auth);
    expect(res.status).toBe(200);
    return res.body as Envelope<T>;
  };
  const post = async <T>(path: string, body: unknown = {}, auth = member.auth) => {
    const res = await t
      .http()
      .post(path)
      .send(body as object)
      .set(auth);
    expect(res.status).toBe(200);
    return res.body as Envelope<T>;
  };
  const entry = async (model_id: string): Promise<Entry> => {
    const page = await get<Page>('/models', { search_word: model_id, page_size: 50 });
    const e = page.data.list.find((x) => x.model_id === model_id);
    if (!e) throw new Error(`no entry ${model_id}`);
    return e;
  };

  it('records the models looked at through /models/info as remote entries, once each', async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await get('/models/info', { source: 'huggingface', model_id: `acme/tiny-${i}` });
      expect(r.code).toBe('success');
    }
    const q = await get('/models/info', {
      source: 'huggingface',
      model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    });
    expect(q.code).toBe('success');
    // Looking again refreshes the same entry.
    hub.repos.get('acme/tiny-1')!.downloads = 999;
    await get('/models/info', { source: 'huggingface', model_id: 'acme/tiny-1' });

    const all = await get<Page>('/models', { page_size: 50 });
    expect(all.code).toBe('success');
    expect(all.data.paginator.total_record).toBe(6);
    expect(await entry('acme/tiny-1')).toMatchObject({
      source: 'huggingface',
      status: 'remote',
      format: 'safetensors',
      downloads: 999,
      size: 100,
      pipeline_tag: 'text-generation',
      is_favorite: false,
    });
    expect(await entry('Qwen/Qwen2.5-0.5B-Instruct-GGUF')).toMatchObject({
      format: 'gguf',
      quantization: 'Q4_K_M',
      parameter_count: 494_032_768,
      context_length: 32_768,
    });
    const e = await entry('acme/tiny-1');
    expect(e.last_synced_at).toBeGreaterThan(0);
  });

  it('pages and filters by source, status, format, type and search word', async () => {
    const p1 = await get<Page>('/models', { page_size: 4 });
    expect(p1.data.list).toHaveLength(4);
    expect(p1.data.paginator).toEqual({
      current_page: 1,
      page_size: 4,
      total_page: 2,
      total_record: 6,
    });
    const p2 = await get<Page>('/models', { page_size: 4, current_page: 2 });
    expect(p2.data.list).toHaveLength(2);
    const ids = [...p1.data.list, ...p2.data.list].map((x) => x.id);
    expect(new Set(ids).size).toBe(6);

    const gguf = await get<Page>('/models', { format: 'gguf' });
    expect(gguf.data.list.map((x) => x.model_id)).toEqual(['Qwen/Qwen2.5-0.5B-Instruct-GGUF']);
    const fe = await get<Page>('/models', { type: 'feature-extraction' });
    expect(fe.data.list.map((x) => x.model_id).sort()).toEqual(['acme/tiny-2', 'acme/tiny-4']);
    const word = await get<Page>('/models', { search_word: 'TINY-3' });
    expect(word.data.list.map((x) => x.model_id)).toEqual(['acme/tiny-3']);
    const like = await get<Page>('/models', { search_word: '%' });
    expect(like.data.list).toHaveLength(0);
    expect((await get<Page>('/models', { source: 'ollama' })).data.list).toHaveLength(0);
    expect((await get<Page>('/models', { status: 'downloaded' })).data.list).toHaveLength(0);
    for (const bad of [
      { source: 'civitai' },
      { status: 'x' },
      { format: 'onnx' },
      { favorite: 'y' },
    ]) {
      expect((await get('/models', bad)).code).toBe('validate_error');
    }
  });

  it('keeps favorites per account', async () => {
    const a = await entry('acme/tiny-2');
    const b = await entry('acme/tiny-3');
    const fav = await post<Entry>(`/models/${a.id}/favorite`);
    expect(fav.code).toBe('success');
    expect(fav.data).toMatchObject({ id: a.id, is_favorite: true });
    // Twice is fine.
    expect((await post(`/models/${a.id}/favorite`)).code).toBe('success');
    await post(`/models/${b.id}/favorite`, {}, other.auth);

    const mine = await get<Page>('/models', { favorite: true });
    expect(mine.data.list.map((x) => x.id)).toEqual([a.id]);
    expect(mine.data.list[0].is_favorite).toBe(true);
    const theirs = await get<Page>('/models', { favorite: true }, other.auth);
    expect(theirs.data.list.map((x) => x.id)).toEqual([b.id]);
    const notMine = await get<Page>('/models', { favorite: false, page_size: 50 });
    expect(notMine.data.list).toHaveLength(5);
    expect((await get<{ favorites: number }>('/models/stats')).data.favorites).toBe(1);

    const un = await post<Entry>(`/models/${a.id}/unfavorite`);
    expect(un.data.is_favorite).toBe(false);
    expect((await get<Page>('/models', { favorite: true })).data.list).toHaveLength(0);
    expect((await get<Page>('/models', { favorite: true }, other.auth)).data.list).toHaveLength(1);

    const missing = await post('/models/00000000-0000-4000-8000-000000000000/favorite');
    expect(missing.code).toBe('not_found');
    expect((await post('/models/not-a-uuid/favorite')).code).toBe('not_found');
  });

  it('records a downloaded snapshot with the metadata of its GGUF header', async () => {
    const snap = join(dir, 'qwen-snapshot');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(snap);
    const file = 'qwen2.5-0.5b-instruct-q4_k_m.gguf';
    await writeFile(
      join(snap, file),
      buildGguf(
        [
          { key: 'general.architecture', type: 'string', value: 'qwen2' },
          { key: 'general.file_type', type: 'u32', value: 7 }, // Q8_0: the file wins
          { key: 'qwen2.context_length', type: 'u32', value: 8192 },
        ],
        [{ name: 'w', shape: [32, 4] }],
      ),
    );
    const dto = await t.app.get(ModelRegistryService).recordLocal({
      source: 'huggingface',
      model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      revision: 'main',
      commit: 'c'.repeat(40),
      path: snap,
      files: [file],
      total_size: 4096,
      account_id: member.id,
    });
    expect(dto).toMatchObject({
      status: 'downloaded',
      local_path: snap,
      format: 'gguf',
      quantization: 'Q8_0',
      context_length: 8192,
      parameter_count: 128,
      size: 4096,
    });
    // Looking at it on the hub again (someone else) keeps what the files said, the status, and
    // whose entry it is.
    await get(
      '/models/info',
      { source: 'huggingface', model_id: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF' },
      admin,
    );
    const [owner] = await t.app
      .get(DataSource)
      .query<Array<{ account_id: string }>>(
        'SELECT account_id FROM model_entries WHERE model_id = $1',
        ['Qwen/Qwen2.5-0.5B-Instruct-GGUF'],
      );
    expect(owner.account_id).toBe(member.id);
    expect(await entry('Qwen/Qwen2.5-0.5B-Instruct-GGUF')).toMatchObject({
      status: 'downloaded',
      quantization: 'Q8_0',
      context_length: 8192,
    });
    expect((await get<Page>('/models', { status: 'downloaded' })).data.list).toHaveLength(1);
  });

  it('syncs the local Ollama models (admin) and marks the vanished ones remote', async () => {
    ollama.models = ['llama3.2:latest', 'qwen3:8b'];
    // Ollama describes only the models it has: /models/info records a downloaded entry.
    expect((await get('/models/info', { source: 'ollama', model_id: 'qwen3:8b' })).code).toBe(
      'success',
    );
    expect(await entry('qwen3:8b')).toMatchObject({
      status: 'downloaded',
      context_length: 131_072,
    });
    const denied = await post('/models/sync', { source: 'ollama' });
    expect(denied.code).toBe('forbidden');
    expect((await post('/models/sync', { source: 'huggingface' }, admin)).code).toBe(
      'validate_error',
    );
    const res = await post<{ synced: number; missing: number }>(
      '/models/sync',
      { source: 'ollama' },
      admin,
    );
    expect(res.code).toBe('success');
    expect(res.data).toEqual({ synced: 2, missing: 0 });
    const list = await get<Page>('/models', { source: 'ollama' });
    expect(list.data.list.map((x) => x.model_id).sort()).toEqual(['llama3.2:latest', 'qwen3:8b']);
    expect(list.data.list[0]).toMatchObject({
      status: 'downloaded',
      format: 'gguf',
      quantization: 'Q4_K_M',
      parameter_count: 3_200_000_000,
    });

    ollama.models = ['qwen3:8b'];
    const again = await post<{ synced: number; missing: number }>(
      '/models/sync',
      { source: 'ollama' },
      admin,
    );
    expect(again.data).toEqual({ synced: 1, missing: 1 });
    expect(await entry('llama3.2:latest')).toMatchObject({ status: 'remote' });
  });

  it('counts by source, status and format, with the bytes on disk', async () => {
    const s = await get<{
      total: number;
      by_source: Count[];
      by_status: Count[];
      by_format: Count[];
      local_size: number;
    }>('/models/stats');
    expect(s.code).toBe('success');
    expect(s.data.total).toBe(8);
    expect(s.data.by_source).toEqual([
      { name: 'huggingface', count: 6 },
      { name: 'ollama', count: 2 },
    ]);
    expect(s.data.by_status).toEqual([
      { name: 'downloaded', count: 2 },
      { name: 'remote', count: 6 },
    ]);
    expect(s.data.by_format).toEqual([
      { name: 'gguf', count: 3 },
      { name: 'safetensors', count: 5 },
    ]);
    expect(s.data.local_size).toBe(4096 + 2_019_393_189);
  });

  it('lists the categories (tasks) with counts', async () => {
    const c = await get<Count[]>('/models/categories');
    expect(c.code).toBe('success');
    expect(c.data).toEqual([
      { name: 'text-generation', count: 4 },
      { name: 'feature-extraction', count: 2 },
    ]);
  });

  it('answers the trending models from the hub and caches them', async () => {
    hub.requests.length = 0;
    const a = await get<Array<{ model_id: string }>>('/models/trending', { limit: 3 });
    expect(a.code).toBe('success');
    expect(a.data).toHaveLength(3);
    expect(hub.requests).toHaveLength(1);
    expect(hub.requests[0].query).toMatchObject({ sort: 'trendingScore', limit: '3' });
    const b = await get<Array<{ model_id: string }>>('/models/trending', { limit: 2 });
    expect(b.data.map((x) => x.model_id)).toEqual(a.data.slice(0, 2).map((x) => x.model_id));
    expect(hub.requests).toHaveLength(1);
    expect((await get('/models/trending', { limit: 51 })).code).toBe('validate_error');
  });

  it('deletes entries as admin only, a downloaded one once its files are gone', async () => {
    const remote = await entry('acme/tiny-5');
    await post(`/models/${remote.id}/favorite`, {}, other.auth);
    expect((await post(`/models/${remote.id}/delete`)).code).toBe('forbidden');
    const ok = await post(`/models/${remote.id}/delete`, {}, admin);
    expect(ok.code).toBe('success');
    expect((await get<Page>('/models', { search_word: 'tiny-5' })).data.list).toHaveLength(0);
    expect((await post(`/models/${remote.id}/delete`, {}, admin)).code).toBe('not_found');

    const local = await entry('Qwen/Qwen2.5-0.5B-Instruct-GGUF');
    const refused = await post(`/models/${local.id}/delete`, {}, admin);
    expect(refused.code).toBe('fail');
    expect(refused.message).toContain('/downloads/:id/delete');
    await rm(local.local_path, { recursive: true, force: true });
    expect((await post(`/models/${local.id}/delete`, {}, admin)).code).toBe('success');

    const ol = await entry('qwen3:8b');
    const olRefused = await post(`/models/${ol.id}/delete`, {}, admin);
    expect(olRefused.code).toBe('fail');
    expect(olRefused.message).toContain('ollama rm qwen3:8b');
    const gone = await entry('llama3.2:latest'); // vanished from Ollama: remote now
    expect((await post(`/models/${gone.id}/delete`, {}, admin)).code).toBe('success');
  });
});
