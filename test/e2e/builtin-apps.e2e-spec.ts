import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { randomUUID } from 'node:crypto';
import { BuiltinAppCatalog } from 'src/modules/app/builtin-apps/builtin-app-catalog.service';

/**
 * The builtin apps (CONSOLE-SHAPES §4.8): the categories and templates as plain arrays with the
 * fields the console reads, the public icon each points to, and add-to-space creating a draft
 * app of the account whose draft config reads back as the template's, with the not_found and
 * validate_error answers.
 */
type Json = Record<string, any>;

describe('Builtin apps (e2e)', () => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let catalog: BuiltinAppCatalog;

  beforeAll(async () => {
    t = await createTestApp();
    [alice, bob] = await Promise.all([createAccount(t), createAccount(t)]);
    catalog = t.app.get(BuiltinAppCatalog);
  });
  afterAll(async () => {
    await t?.close();
  });

  const get = async (who: TestAccount | null, p: string) => {
    const req = t.http().get(p);
    const res = await (who ? req.set(who.auth) : req);
    expect(res.status).toBe(200);
    return res.body as { code: string; message: string; data: any };
  };
  const post = async (who: TestAccount, p: string, body: Json = {}) => {
    const res = await t
      .http()
      .post(p)
      .set(who.auth)
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.status).toBe(200);
    return res.body as { code: string; message: string; data: any };
  };

  it('lists the categories as a plain array of {category, name}', async () => {
    const res = await get(alice, '/builtin-apps/categories');
    expect(res.code).toBe('success');
    expect(Array.isArray(res.data)).toBe(true);
    for (const c of res.data as Json[]) {
      expect(Object.keys(c).sort()).toEqual(['category', 'name']);
      expect(typeof c.name).toBe('string');
    }
    expect((res.data as Json[]).map((c) => c.category)).toEqual(
      expect.arrayContaining(['assistant', 'hr', 'writing', 'ecommerce']),
    );
  });

  it('lists the templates with every field the console reads, icons loadable without a token', async () => {
    const cats = new Set(
      ((await get(alice, '/builtin-apps/categories')).data as Json[]).map((c) => c.category),
    );
    const res = await get(alice, '/builtin-apps');
    expect(res.code).toBe('success');
    const list = res.data as Json[];
    expect(list.map((a) => a.id)).toEqual(catalog.apps.map((a) => a.id));
    for (const a of list) {
      expect(Object.keys(a).sort()).toEqual(
        ['id', 'category', 'name', 'icon', 'description', 'model_config', 'created_at'].sort(),
      );
      expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(cats.has(a.category)).toBe(true);
      expect(Object.keys(a.model_config).sort()).toEqual(['model', 'provider']);
      expect(a.model_config.provider).toEqual(expect.any(String));
      expect(a.model_config.model).toEqual(expect.any(String));
      expect(Number.isInteger(a.created_at)).toBe(true);
      // Absolute, built from where the request reached us.
      expect(a.icon).toBe(`${t.url}/builtin-apps/${a.id}/icon`);
      const icon = await t.http().get(new URL(a.icon).pathname); // no Authorization
      expect(icon.status).toBe(200);
      expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
      expect(Buffer.from(icon.body as Buffer).toString('utf8')).toMatch(/^<svg[\s>]/);
    }
  });

  it('needs a signed-in account for the lists; an unknown icon is not_found', async () => {
    expect((await get(null, '/builtin-apps')).code).toBe('unauthorized');
    expect((await get(null, '/builtin-apps/categories')).code).toBe('unauthorized');
    const res = await t.http().get(`/builtin-apps/${randomUUID()}/icon`);
    expect(res.body.code).toBe('not_found');
  });

  it('adds a template to the space as a draft app whose config reads back as the template’s', async () => {
    const template = catalog.apps.find((a) => a.config.tools.length >= 2)!;
    const res = await post(alice, '/builtin-apps/add-builtin-app-to-space', {
      builtin_app_id: template.id,
    });
    expect(res).toMatchObject({ code: 'success', message: 'Builtin app added to your space' });
    expect(Object.keys(res.data)).toEqual(['id']);
    const id = res.data.id as string;

    const detail = await get(alice, `/apps/${id}`);
    expect(detail.data).toMatchObject({
      id,
      name: template.name,
      description: template.description,
      icon: `${t.url}/builtin-apps/${template.id}/icon`,
      status: 'draft',
    });

    const draft = (await get(alice, `/apps/${id}/draft-app-config`)).data as Json;
    const c = template.config;
    expect(draft).toMatchObject({
      model_config: c.model_config,
      dialog_round: c.dialog_round,
      preset_prompt: c.preset_prompt,
      workflows: [],
      datasets: [],
      retrieval_config: c.retrieval_config,
      long_term_memory: c.long_term_memory,
      opening_statement: c.opening_statement,
      opening_questions: c.opening_questions,
      speech_to_text: c.speech_to_text,
      text_to_speech: c.text_to_speech,
      suggested_after_answer: c.suggested_after_answer,
      review_config: c.review_config,
    });
    // Tools come back expanded (§4.3); converted back as the console does, they are the template's.
    expect(
      (draft.tools as Json[]).map((x) => ({
        type: x.type,
        provider_id: x.provider.id,
        tool_id: x.tool.name,
        params: x.tool.params,
      })),
    ).toEqual(c.tools);
    for (const x of draft.tools as Json[])
      expect(x.provider.icon).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/builtin-tools\//);

    // A working app: it lists, publishes and can be edited with the console's whole form.
    const list = (await get(alice, '/apps?search_word=' + encodeURIComponent(template.name))).data;
    expect((list.list as Json[]).map((a) => a.id)).toContain(id);
    expect(
      (
        await post(alice, `/apps/${id}`, {
          name: 'Mine now',
          icon: detail.data.icon,
          description: '',
        })
      ).code,
    ).toBe('success');
    expect((await post(alice, `/apps/${id}/publish`)).code).toBe('success');
    // Another account cannot see it.
    expect((await get(bob, `/apps/${id}`)).code).toBe('not_found');
  });

  it('adds every template, each time as a new app', async () => {
    const acc = await createAccount(t);
    const ids = new Set<string>();
    for (const a of [...catalog.apps, catalog.apps[0]]) {
      const res = await post(acc, '/builtin-apps/add-builtin-app-to-space', {
        builtin_app_id: a.id,
      });
      expect(res.code).toBe('success');
      ids.add(res.data.id as string);
      const draft = (await get(acc, `/apps/${res.data.id}/draft-app-config`)).data as Json;
      expect(draft.model_config).toEqual(a.config.model_config);
      expect(draft.tools).toHaveLength(a.config.tools.length);
    }
    expect(ids.size).toBe(catalog.apps.length + 1);
    const list = (await get(acc, '/apps?page_size=50')).data;
    expect(list.paginator.total_record).toBe(catalog.apps.length + 1);
  });

  it('answers not_found for an unknown template and validate_error for a missing or malformed id', async () => {
    const unknown = await post(alice, '/builtin-apps/add-builtin-app-to-space', {
      builtin_app_id: randomUUID(),
    });
    expect(unknown).toMatchObject({ code: 'not_found', message: 'The builtin app does not exist' });
    const missing = await post(alice, '/builtin-apps/add-builtin-app-to-space', {});
    expect(missing.code).toBe('validate_error');
    expect(missing.data).toHaveProperty('builtin_app_id');
    const malformed = await post(alice, '/builtin-apps/add-builtin-app-to-space', {
      builtin_app_id: 'travel-planner',
    });
    expect(malformed).toMatchObject({
      code: 'validate_error',
      message: 'builtin_app_id must be a UUID',
    });
  });
});
