import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { consoleRequests } from '@test/support/console-requests';
import { DataSource } from 'typeorm';

/**
 * Apps end to end (CONSOLE-SHAPES §4.1): create with the console's whole form model, the detail
 * and list shapes the console reads, paging and search, update, copy (with the draft), delete,
 * validation messages, and another account's apps answering not_found on every route.
 */

const ICON = 'http://localhost:5000/upload/app.png';

interface Envelope<T = Record<string, unknown>> {
  code: string;
  message: string;
  data: T;
}
interface Paged<T> {
  list: T[];
  paginator: { current_page: number; page_size: number; total_page: number; total_record: number };
}
type Json = Record<string, unknown>;
interface AppDetail {
  id: string;
  debug_conversation_id: string;
  name: string;
  icon: string;
  description: string;
  status: string;
  draft_updated_at: number;
  updated_at: number;
  created_at: number;
}
interface AppItem {
  id: string;
  name: string;
  icon: string;
  description: string;
  preset_prompt: string;
  model_config: { provider: string; model: string };
  status: string;
  updated_at: number;
  created_at: number;
}

describe('Apps (e2e)', () => {
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;

  beforeAll(async () => {
    t = await createTestApp();
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const { get, post } = consoleRequests(() => t);
  const create = async (acc: TestAccount, fields: Json = {}): Promise<string> => {
    const res = await post<{ id: string }>(acc, '/apps', {
      name: 'Helper',
      icon: ICON,
      description: 'Answers questions',
      fileList: [{ uid: '1', name: 'app.png', url: ICON }], // the console's whole form model
      ...fields,
    });
    expect(res).toMatchObject({ code: 'success', message: 'App created' });
    return res.data.id;
  };

  it('creates an app with every field the detail and the list read', async () => {
    const before = Math.floor(Date.now() / 1000);
    const acc = await createAccount(t);
    const id = await create(acc, { name: '  Travel agent ', description: undefined });
    const detail = await get<AppDetail>(acc, `/apps/${id}`);
    expect(detail.code).toBe('success');
    expect(Object.keys(detail.data).sort()).toEqual(
      [
        'id',
        'debug_conversation_id',
        'name',
        'icon',
        'description',
        'status',
        'draft_updated_at',
        'updated_at',
        'created_at',
      ].sort(),
    );
    expect(detail.data).toMatchObject({
      id,
      debug_conversation_id: '',
      name: 'Travel agent',
      icon: ICON,
      description: '', // never null: the console calls description.trim()
      status: 'draft',
    });
    for (const k of ['draft_updated_at', 'updated_at', 'created_at'] as const) {
      expect(Number.isInteger(detail.data[k])).toBe(true);
      expect(detail.data[k]).toBeGreaterThanOrEqual(before - 1);
    }

    const list = await get<Paged<AppItem>>(acc, '/apps');
    expect(list.data.paginator).toEqual({
      current_page: 1,
      page_size: 20,
      total_page: 1,
      total_record: 1,
    });
    const [item] = list.data.list;
    expect(Object.keys(item).sort()).toEqual(
      [
        'id',
        'name',
        'icon',
        'description',
        'preset_prompt',
        'model_config',
        'status',
        'updated_at',
        'created_at',
      ].sort(),
    );
    expect(item).toMatchObject({
      id,
      name: 'Travel agent',
      description: '',
      preset_prompt: '',
      model_config: { provider: 'openai', model: 'gpt-4o-mini' },
      status: 'draft',
    });
  });

  it('validates create and update bodies with messages naming the field', async () => {
    const base = { name: 'N', icon: ICON, description: 'D' };
    const cases: Array<[Json, RegExp]> = [
      [{ name: '' }, /name is required/],
      [{ name: '   ' }, /name is required/],
      [{ name: 'x'.repeat(41) }, /name must be at most 40 characters/],
      [{ name: 7 }, /name must be a string/],
      [{ icon: '' }, /icon is required/],
      [{ icon: 'not a url' }, /icon must be an http\(s\) URL/],
      [{ icon: 'ftp://x.test/a.png' }, /icon must be an http\(s\) URL/],
      [{ description: 'd'.repeat(801) }, /description must be at most 800 characters/],
    ];
    const id = await create(a);
    for (const [patch, msg] of cases) {
      for (const path of ['/apps', `/apps/${id}`]) {
        const res = await post(a, path, { ...base, ...patch });
        expect(res.code).toBe('validate_error');
        expect(res.message).toMatch(msg);
      }
    }
    // Icon URLs without a TLD (our own uploads on localhost) and an IP pass.
    expect((await post(a, '/apps', { ...base, icon: 'http://127.0.0.1:5000/i.png' })).code).toBe(
      'success',
    );
    expect(
      (await post(a, '/apps', { ...base, name: 'x'.repeat(40), description: 'd'.repeat(800) }))
        .code,
    ).toBe('success');
  });

  it('updates name, icon and description (the whole form model is accepted)', async () => {
    const id = await create(a);
    const res = await post(a, `/apps/${id}`, {
      name: 'Renamed',
      icon: 'http://localhost:5000/upload/other.png',
      description: '  New text ',
      fileList: [],
    });
    expect(res).toMatchObject({ code: 'success', message: 'App updated', data: {} });
    expect((await get<AppDetail>(a, `/apps/${id}`)).data).toMatchObject({
      name: 'Renamed',
      icon: 'http://localhost:5000/upload/other.png',
      description: 'New text',
    });
    // An omitted description becomes "" (never null).
    await post(a, `/apps/${id}`, { name: 'Renamed', icon: ICON });
    expect((await get<AppDetail>(a, `/apps/${id}`)).data.description).toBe('');
  });

  it('lists newest first with paging and a case-insensitive search on the name', async () => {
    const acc = await createAccount(t);
    for (const name of ['Alpha one', 'Beta', 'alpha two', '100%_off']) await create(acc, { name });
    const page1 = await get<Paged<AppItem>>(acc, '/apps', {
      current_page: 1,
      page_size: 3,
      search_word: '',
    });
    expect(page1.data.paginator).toEqual({
      current_page: 1,
      page_size: 3,
      total_page: 2,
      total_record: 4,
    });
    expect(page1.data.list.map((x) => x.name)).toEqual(['100%_off', 'alpha two', 'Beta']);
    const page2 = await get<Paged<AppItem>>(acc, '/apps', { current_page: 2, page_size: 3 });
    expect(page2.data.list.map((x) => x.name)).toEqual(['Alpha one']);
    const found = await get<Paged<AppItem>>(acc, '/apps', { search_word: 'ALPHA' });
    expect(found.data.list.map((x) => x.name)).toEqual(['alpha two', 'Alpha one']);
    // Wildcards match literally.
    const literal = await get<Paged<AppItem>>(acc, '/apps', { search_word: '%_' });
    expect(literal.data.list.map((x) => x.name)).toEqual(['100%_off']);
    const empty = await get<Paged<AppItem>>(acc, '/apps', { search_word: 'nothing' });
    expect(empty.data).toEqual({
      list: [],
      paginator: { current_page: 1, page_size: 20, total_page: 0, total_record: 0 },
    });
    const bad = await get(acc, '/apps', { page_size: 51 });
    expect(bad).toMatchObject({ code: 'validate_error', message: 'page_size must be at most 50' });
  });

  it('copies an app with its draft config into a new draft app', async () => {
    const id = await create(a, { name: 'Original', description: 'Source' });
    expect(
      await post(a, `/apps/${id}/draft-app-config`, {
        preset_prompt: 'You plan trips.',
        dialog_round: 7,
      }),
    ).toMatchObject({ code: 'success' });
    expect((await post(a, `/apps/${id}/publish`)).code).toBe('success');

    const copied = await post<{ id: string }>(a, `/apps/${id}/copy`);
    expect(copied).toMatchObject({ code: 'success', message: 'App copied' });
    const copyId = copied.data.id;
    expect(copyId).not.toBe(id);
    expect((await get<AppDetail>(a, `/apps/${copyId}`)).data).toMatchObject({
      name: 'Original',
      description: 'Source',
      icon: ICON,
      status: 'draft', // the copy is never published
      debug_conversation_id: '',
    });
    const draft = await get<Json>(a, `/apps/${copyId}/draft-app-config`);
    expect(draft.data).toMatchObject({ preset_prompt: 'You plan trips.', dialog_round: 7 });
    // Its own draft row, and no history.
    const original = await get<Json>(a, `/apps/${id}/draft-app-config`);
    expect(draft.data.id).not.toBe(original.data.id);
    const histories = await get<Paged<Json>>(a, `/apps/${copyId}/publish-histories`);
    expect(histories.data.paginator.total_record).toBe(0);
    // Editing the copy leaves the original alone.
    await post(a, `/apps/${copyId}/draft-app-config`, { preset_prompt: 'Changed' });
    expect((await get<Json>(a, `/apps/${id}/draft-app-config`)).data.preset_prompt).toBe(
      'You plan trips.',
    );
  });

  it('deletes an app with its draft and versions', async () => {
    const id = await create(a);
    await post(a, `/apps/${id}/publish`);
    const res = await post(a, `/apps/${id}/delete`);
    expect(res).toMatchObject({ code: 'success', message: 'App deleted', data: {} });
    expect((await get(a, `/apps/${id}`)).code).toBe('not_found');
    expect((await post(a, `/apps/${id}/delete`)).code).toBe('not_found');
    const [{ n }] = await t.app
      .get(DataSource)
      .query<Array<{ n: number }>>(
        'SELECT count(*)::int AS n FROM app_config_versions WHERE app_id = $1',
        [id],
      );
    expect(n).toBe(0);
  });

  it("answers not_found for another account's app on every route, and changes nothing", async () => {
    const id = await create(a, { name: 'Mine' });
    await post(a, `/apps/${id}/publish`);
    const [version] = (await get<Paged<{ id: string }>>(a, `/apps/${id}/publish-histories`)).data
      .list;
    const body = { name: 'Stolen', icon: ICON };
    const checks: Array<Promise<Envelope>> = [
      get(b, `/apps/${id}`),
      post(b, `/apps/${id}`, body),
      post(b, `/apps/${id}/copy`),
      post(b, `/apps/${id}/delete`),
      get(b, `/apps/${id}/draft-app-config`),
      post(b, `/apps/${id}/draft-app-config`, { dialog_round: 1 }),
      post(b, `/apps/${id}/publish`),
      post(b, `/apps/${id}/cancel-publish`),
      get(b, `/apps/${id}/publish-histories`),
      post(b, `/apps/${id}/fallback-history`, { app_config_version_id: version.id }),
      get(b, `/apps/${id}/published-config`),
      post(b, `/apps/${id}/published-config/regenerate-web-app-token`),
    ];
    for (const res of await Promise.all(checks)) {
      expect(res).toMatchObject({ code: 'not_found', message: 'The app does not exist' });
    }
    // A malformed id is the same not_found.
    expect((await get(a, '/apps/not-a-uuid')).code).toBe('not_found');
    expect((await post(a, '/apps/not-a-uuid/publish')).code).toBe('not_found');
    // Nothing changed, and b's list is empty.
    expect((await get<AppDetail>(a, `/apps/${id}`)).data).toMatchObject({
      name: 'Mine',
      status: 'published',
    });
    expect((await get<Json>(a, `/apps/${id}/draft-app-config`)).data.dialog_round).toBe(3);
    expect((await get<Paged<AppItem>>(b, '/apps')).data.paginator.total_record).toBe(0);
  });

  it('needs a signed-in account', async () => {
    const res = await t.http().get('/apps');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: 'unauthorized' });
  });
});
