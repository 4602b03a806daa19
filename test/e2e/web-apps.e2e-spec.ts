import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { openStream, postStream, usageRows } from '@test/support/model-test-utils';
import { consoleRequests } from '@test/support/console-requests';
import * as http from 'node:http';
import { DataSource } from 'typeorm';

/**
 * Web apps (CONSOLE-SHAPES §4.10, §4.11) end to end against the fake OpenAI server: the info of
 * a published app, chat on the PUBLISHED config without a console login (a signed cookie per
 * browser and app) or as a signed-in account's end user, stop, the visitor's conversations, the
 * §4.11 routes for visitors, and nobody reaching someone else's conversation.
 */

const ICON = 'http://localhost:5000/upload/app.png';
type Json = Record<string, any>;

interface Envelope<T = Json> {
  code: string;
  message: string;
  data: T;
}

/** `name=value` of the visitor cookie a response set (one per path, same value). */
function visitorCookie(headers: http.IncomingHttpHeaders): string {
  const set = headers['set-cookie'] ?? [];
  const cookies = set.filter((c) => c.startsWith('llmops_wa_'));
  expect(cookies).toHaveLength(2);
  expect(cookies.map((c) => /Path=([^;]+)/.exec(c)?.[1]).sort()).toEqual([
    '/conversations/',
    '/web-apps/',
  ]);
  for (const c of cookies) {
    expect(c).toMatch(/; HttpOnly/);
    expect(c).toMatch(/; SameSite=Lax/);
  }
  return cookies[0].split(';')[0];
}

describe('Web apps (e2e)', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        MODEL_MAX_RETRIES: '0',
        SSE_PING_INTERVAL_MS: '10000',
      },
    });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });
  afterEach(() => {
    const left = openai.pending;
    openai.reset();
    expect(left).toBe(0);
  });

  // ---- helpers ----

  const { get, post } = consoleRequests(() => t);
  /** A request as a visitor: no token, the given cookie (or none), or a console account's token. */
  const as = (who: string | TestAccount | null): Record<string, string> =>
    who === null ? {} : typeof who === 'string' ? { Cookie: who } : who.auth;
  const anonGet = async <T = Json>(path: string, who: string | TestAccount | null) =>
    (await t.http().get(path).set(as(who))).body as Envelope<T>;
  const anonPost = async <T = Json>(path: string, who: string | TestAccount | null, body = {}) =>
    (await t.http().post(path).set(as(who)).set('Content-Type', 'application/json').send(body))
      .body as Envelope<T>;

  /** A published app with `config` in its draft; its web-app token. */
  const publishedApp = async (
    owner: TestAccount,
    config: Json = {},
  ): Promise<{ appId: string; token: string }> => {
    const created = await post<{ id: string }>(owner, '/apps', {
      name: 'Helper',
      icon: ICON,
      description: 'A helpful app',
    });
    const appId = created.data.id;
    if (Object.keys(config).length)
      expect(await post(owner, `/apps/${appId}/draft-app-config`, config)).toMatchObject({
        code: 'success',
      });
    expect((await post(owner, `/apps/${appId}/publish`)).code).toBe('success');
    return { appId, token: await tokenOf(owner, appId) };
  };
  const tokenOf = async (owner: TestAccount, appId: string): Promise<string> => {
    const cfg = await get<{ web_app: { token: string } }>(owner, `/apps/${appId}/published-config`);
    expect(cfg.data.web_app.token).toMatch(/^[A-Za-z0-9]{16}$/);
    return cfg.data.web_app.token;
  };

  const chat = (token: string, who: string | TestAccount | null, query: string, cid = '') =>
    postStream(t.url, `/web-apps/${token}/chat`, { conversation_id: cid, query }, as(who));

  /** A first chat as a new anonymous visitor: its cookie and the conversation's id. */
  const newVisitor = async (token: string, answer = 'Hi there') => {
    openai.enqueue({ type: 'text', chunks: [answer] });
    const res = await chat(token, null, 'Hello');
    expect(res.status).toBe(200);
    expect(res.frames.at(-1)!.event).toBe('agent_end');
    return {
      cookie: visitorCookie(res.headers),
      conversationId: res.frames[0].data.conversation_id,
    };
  };

  const messageRow = async (id: string): Promise<Json> =>
    (await db.query<Json[]>('SELECT * FROM messages WHERE id = $1', [id]))[0];

  // ---- tests ----

  it('answers the published app’s info with text_to_speech and the model’s features', async () => {
    const owner = await createAccount(t);
    const { appId, token } = await publishedApp(owner, {
      opening_statement: 'Welcome!',
      opening_questions: ['What can you do?'],
      suggested_after_answer: { enable: true },
      text_to_speech: { enable: true, voice: 'echo', auto_play: false },
    });
    // Draft edits after publishing do not show: the web app runs the published version.
    await post(owner, `/apps/${appId}/draft-app-config`, { opening_statement: 'Draft only' });
    const res = await anonGet<Json>(`/web-apps/${token}`, null);
    expect(res.code).toBe('success');
    expect(res.data).toEqual({
      id: appId,
      icon: ICON,
      name: 'Helper',
      description: 'A helpful app',
      app_config: {
        opening_statement: 'Welcome!',
        opening_questions: ['What can you do?'],
        suggested_after_answer: { enable: true },
        text_to_speech: { enable: true, voice: 'echo', auto_play: false },
        speech_to_text: { enable: false },
        features: ['tool_call', 'agent_thought', 'image_input'],
      },
    });
  });

  it('answers not_found for an unknown token and an unpublished app; works again with the new token after re-publishing', async () => {
    const owner = await createAccount(t);
    expect((await anonGet('/web-apps/AAAAAAAAAAAAAAAA', null)).code).toBe('not_found');
    expect((await anonGet('/web-apps/bad token', null)).code).toBe('not_found');
    const draft = await post<{ id: string }>(owner, '/apps', { name: 'Draft', icon: ICON });
    expect((await get(owner, `/apps/${draft.data.id}/published-config`)).data).toMatchObject({
      web_app: { token: '' },
    });

    const { appId, token } = await publishedApp(owner);
    const { cookie, conversationId: cid } = await newVisitor(token);
    // A signed-in console user visiting the web app: their conversation is bound to the account.
    const member = await createAccount(t);
    openai.enqueue({ type: 'text', chunks: ['Hi member'] });
    const memberCid = (await chat(token, member, 'Hello')).frames[0].data.conversation_id as string;
    expect((await anonGet(`/conversations/${cid}/messages`, cookie)).code).toBe('success');
    expect((await anonGet(`/conversations/${memberCid}/name`, member)).code).toBe('success');

    expect((await post(owner, `/apps/${appId}/cancel-publish`)).code).toBe('success');
    expect((await anonGet(`/web-apps/${token}`, null)).code).toBe('not_found');
    expect((await anonGet(`/web-apps/${token}/conversations`, cookie)).code).toBe('not_found');
    const refused = await chat(token, cookie, 'Still there?');
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(refused.raw).code).toBe('not_found');
    // Nor may visitors read or change their old conversations through §4.11 while it is down.
    for (const [c, who] of [
      [cid, cookie],
      [memberCid, member],
    ] as const) {
      expect((await anonGet(`/conversations/${c}/messages`, who)).code).toBe('not_found');
      expect((await anonGet(`/conversations/${c}/name`, who)).code).toBe('not_found');
      expect((await anonPost(`/conversations/${c}/name`, who, { name: 'x' })).code).toBe(
        'not_found',
      );
      expect((await anonPost(`/conversations/${c}/delete`, who)).code).toBe('not_found');
    }

    expect((await post(owner, `/apps/${appId}/publish`)).code).toBe('success');
    const fresh = await tokenOf(owner, appId);
    expect(fresh).not.toBe(token);
    expect((await anonGet(`/web-apps/${token}`, null)).code).toBe('not_found');
    expect((await anonGet(`/web-apps/${fresh}`, null)).data.id).toBe(appId);
    openai.enqueue({ type: 'text', chunks: ['Back'] });
    const again = await chat(fresh, cookie, 'Back?');
    expect(again.frames.at(-1)!.event).toBe('agent_end');
    // Re-published: the old conversations are theirs again, untouched.
    expect((await anonGet(`/conversations/${cid}/messages`, cookie)).code).toBe('success');
    expect((await anonGet(`/conversations/${memberCid}/name`, member)).data).toMatchObject({
      name: expect.not.stringMatching(/^x$/),
    });
    // The same visitor (cookie) on the same app: both conversations are theirs.
    expect(await anonGet(`/web-apps/${fresh}/conversations`, cookie)).toMatchObject({
      data: [{ id: again.frames[0].data.conversation_id }, {}],
    });
  });

  it('streams a turn for an anonymous visitor on the published config, stores it, and remembers it in the next turn', async () => {
    const owner = await createAccount(t);
    const { appId, token } = await publishedApp(owner, { preset_prompt: 'You are a pirate.' });
    await post(owner, `/apps/${appId}/draft-app-config`, { preset_prompt: 'You are a robot.' });
    openai.enqueue({
      type: 'text',
      chunks: ['Ahoy', '!'],
      usage: { prompt_tokens: 20, completion_tokens: 3 },
    });
    const first = await chat(token, null, 'Say hello');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/event-stream/);
    const cookie = visitorCookie(first.headers);
    const evs = first.frames.map((f) => f.event).filter((e) => e !== 'ping');
    expect(evs).toEqual(['agent_message', 'agent_message', 'agent_message', 'agent_end']);
    const { message_id, conversation_id, task_id } = first.frames[0].data;
    expect([message_id, conversation_id, task_id].every((v) => /^[0-9a-f-]{36}$/.test(v))).toBe(
      true,
    );
    const [sys] = openai.requestsTo('chat')[0].body.messages as Json[];
    expect(String(sys.content)).toContain('You are a pirate.');

    const row = await messageRow(message_id);
    expect(row).toMatchObject({
      invoke_from: 'web_app',
      account_id: owner.id,
      app_id: appId,
      answer: 'Ahoy!',
      status: 'normal',
    });
    const [endUser] = await db.query<Json[]>('SELECT * FROM end_users WHERE id = $1', [
      row.created_by,
    ]);
    expect(endUser).toMatchObject({
      app_id: appId,
      account_id: owner.id,
      created_by_account: null,
    });
    const [conv] = await db.query<Json[]>('SELECT * FROM conversations WHERE id = $1', [
      conversation_id,
    ]);
    expect(conv).toMatchObject({
      name: 'New Conversation',
      invoke_from: 'web_app',
      created_by: endUser.id,
      account_id: owner.id,
    });
    // Usage is on the owner's account.
    const usage = await usageRows(t, owner.id, (r) => r.length >= 1);
    expect(usage.map((u) => u.source)).toEqual(['app.web_app']);

    openai.reset();
    openai.enqueue({ type: 'text', chunks: ['Arr, again'] });
    const second = await chat(token, cookie, 'And again', conversation_id);
    expect(second.frames.at(-1)!.event).toBe('agent_end');
    expect(second.frames[0].data.conversation_id).toBe(conversation_id);
    const seen = (openai.requestsTo('chat')[0].body.messages as Json[]).map(
      (m) => `${m.role}:${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}`,
    );
    expect(seen.slice(1)).toEqual(['user:Say hello', 'assistant:Ahoy!', 'user:And again']);

    // §4.11 with the cookie: messages, name, rename, pin.
    const msgs = await anonGet(`/conversations/${conversation_id}/messages`, cookie);
    expect(msgs.code).toBe('success');
    expect(msgs.data.list.map((m: Json) => m.answer)).toEqual(['Arr, again', 'Ahoy!']);
    expect(
      (await anonPost(`/conversations/${conversation_id}/name`, cookie, { name: 'Pirates' })).code,
    ).toBe('success');
    expect((await anonGet(`/conversations/${conversation_id}/name`, cookie)).data).toEqual({
      name: 'Pirates',
    });
  });

  it('leaves no empty conversation when the turn cannot start (no credentials for the model)', async () => {
    const owner = await createAccount(t);
    // Anthropic has no server key here: the model cannot be built.
    const { appId, token } = await publishedApp(owner, {
      model_config: { provider: 'anthropic', model: 'claude-3-5-haiku-latest', parameters: {} },
    });
    const res = await chat(token, null, 'Hello');
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(res.raw).code).toBe('fail');
    const cookie = visitorCookie(res.headers);
    expect((await anonGet(`/web-apps/${token}/conversations`, cookie)).data).toEqual([]);
    const rows = await db.query<Json[]>('SELECT id FROM conversations WHERE app_id = $1', [appId]);
    expect(rows).toEqual([]);
  });

  it('lists the visitor’s conversations newest first, filtered by is_pinned', async () => {
    const owner = await createAccount(t);
    const { token } = await publishedApp(owner);
    const a = await newVisitor(token);
    openai.enqueue({ type: 'text', chunks: ['Second'] });
    const b = await chat(token, a.cookie, 'Another');
    const second = b.frames[0].data.conversation_id as string;
    expect(second).not.toBe(a.conversationId);
    // A stranger's conversation on the same app is not listed.
    await newVisitor(token);

    const all = await anonGet<Json[]>(`/web-apps/${token}/conversations`, a.cookie);
    expect(all.data.map((c) => c.id)).toEqual([second, a.conversationId]);
    expect(Object.keys(all.data[0]).sort()).toEqual(['created_at', 'id', 'name', 'summary']);
    expect(
      (
        await anonPost(`/conversations/${a.conversationId}/is-pinned`, a.cookie, {
          is_pinned: true,
        })
      ).code,
    ).toBe('success');
    const pinned = await anonGet<Json[]>(
      `/web-apps/${token}/conversations?is_pinned=true`,
      a.cookie,
    );
    expect(pinned.data.map((c) => c.id)).toEqual([a.conversationId]);
    const unpinned = await anonGet<Json[]>(
      `/web-apps/${token}/conversations?is_pinned=false`,
      a.cookie,
    );
    expect(unpinned.data.map((c) => c.id)).toEqual([second]);
    expect(
      (await anonGet(`/web-apps/${token}/conversations?is_pinned=`, a.cookie)).data,
    ).toHaveLength(2);

    expect((await anonPost(`/conversations/${second}/delete`, a.cookie)).code).toBe('success');
    const after = await anonGet<Json[]>(`/web-apps/${token}/conversations`, a.cookie);
    expect(after.data.map((c) => c.id)).toEqual([a.conversationId]);
    // A deleted conversation cannot be continued.
    const res = await chat(token, a.cookie, 'Hello?', second);
    expect(JSON.parse(res.raw).code).toBe('forbidden');
    // Without any identity the list is empty.
    expect((await anonGet(`/web-apps/${token}/conversations`, null)).data).toEqual([]);
  });

  it('never lets another visitor, a forged cookie or another app use a conversation', async () => {
    const owner = await createAccount(t);
    const stranger = await createAccount(t);
    const { token } = await publishedApp(owner);
    const other = await publishedApp(owner);
    const a = await newVisitor(token);
    const b = await newVisitor(token);
    const cid = a.conversationId;

    // Another visitor: forbidden in chat, not_found on §4.11, not in their list.
    const res = await chat(token, b.cookie, 'Mine now', cid);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(res.raw).code).toBe('forbidden');
    expect((await anonGet(`/conversations/${cid}/messages`, b.cookie)).code).toBe('not_found');
    expect((await anonGet(`/conversations/${cid}/name`, b.cookie)).code).toBe('not_found');
    expect((await anonPost(`/conversations/${cid}/delete`, b.cookie)).code).toBe('not_found');
    expect((await anonGet<Json[]>(`/web-apps/${token}/conversations`, b.cookie)).data).toHaveLength(
      1,
    );
    // A signed-in account that is not the visitor (even the app's owner): not_found.
    expect((await anonGet(`/conversations/${cid}/messages`, owner)).code).toBe('not_found');
    expect((await anonGet(`/conversations/${cid}/messages`, stranger)).code).toBe('not_found');
    // No credential at all: unauthorized, as before.
    expect((await anonGet(`/conversations/${cid}/messages`, null)).code).toBe('unauthorized');

    // A tampered cookie: someone else's end-user id with a's signature, or a's id with a bad one.
    const [name, value] = a.cookie.split('=');
    const [aId, sig] = decodeURIComponent(value).split('.');
    const [, bValue] = b.cookie.split('=');
    const bId = decodeURIComponent(bValue).split('.')[0];
    const forged = [
      `${name}=${encodeURIComponent(`${bId}.${sig}`)}`,
      `${name}=${encodeURIComponent(`${aId}.${sig.slice(0, -2)}xx`)}`,
      `${name}=${encodeURIComponent(aId)}`,
    ];
    for (const cookie of forged) {
      expect((await anonGet(`/conversations/${cid}/messages`, cookie)).code).toBe('not_found');
      expect((await anonGet<Json[]>(`/web-apps/${token}/conversations`, cookie)).data).toEqual([]);
      const r = await chat(token, cookie, 'Let me in', cid);
      expect(JSON.parse(r.raw).code).toBe('forbidden');
    }
    // a's cookie under the other app's cookie name: refused there.
    const otherApp = await anonGet(`/web-apps/${other.token}`, null);
    const otherName = `llmops_wa_${String(otherApp.data.id).replace(/-/g, '')}`;
    const moved = `${otherName}=${value}`;
    expect((await anonGet<Json[]>(`/web-apps/${other.token}/conversations`, moved)).data).toEqual(
      [],
    );
    // a's own cookie still works, and not on the other app.
    expect((await anonGet(`/conversations/${cid}/messages`, a.cookie)).code).toBe('success');
    const wrongApp = await chat(other.token, a.cookie, 'Hi', cid);
    expect(JSON.parse(wrongApp.raw).code).toBe('forbidden');
    // An invalid access token is refused, never downgraded to the cookie.
    const bad = await t
      .http()
      .get(`/conversations/${cid}/messages`)
      .set({ Authorization: 'Bearer nope', Cookie: a.cookie });
    expect((bad.body as Envelope).code).toBe('unauthorized');
  });

  it('keeps a signed-in console user’s conversations across browsers (cookies)', async () => {
    const owner = await createAccount(t);
    const user = await createAccount(t);
    const { appId, token } = await publishedApp(owner);
    openai.enqueue({ type: 'text', chunks: ['Hello, user'] });
    const first = await chat(token, user, 'Hi');
    expect(first.frames.at(-1)!.event).toBe('agent_end');
    // No cookie for a signed-in user: the identity is the account.
    expect((first.headers['set-cookie'] ?? []).some((c) => c.startsWith('llmops_wa_'))).toBe(false);
    const cid = first.frames[0].data.conversation_id as string;
    const [endUser] = await db.query<Json[]>(
      'SELECT e.* FROM end_users e JOIN conversations c ON c.created_by = e.id WHERE c.id = $1',
      [cid],
    );
    expect(endUser).toMatchObject({
      app_id: appId,
      account_id: owner.id,
      created_by_account: user.id,
    });

    // Another browser (an unrelated visitor cookie) with the same login sees and continues it.
    const elsewhere = await newVisitor(token);
    const withBoth = { ...user.auth, Cookie: elsewhere.cookie };
    const list = await t.http().get(`/web-apps/${token}/conversations`).set(withBoth);
    expect((list.body as Envelope<Json[]>).data.map((c) => c.id)).toEqual([cid]);
    openai.enqueue({ type: 'text', chunks: ['Still you'] });
    const again = await postStream(
      t.url,
      `/web-apps/${token}/chat`,
      { conversation_id: cid, query: 'Me again' },
      withBoth,
    );
    expect(again.frames.at(-1)!.event).toBe('agent_end');
    expect((await anonGet(`/conversations/${cid}/messages`, user)).data.list).toHaveLength(2);
    // The same end user, not a second one.
    const [{ n }] = await db.query<Json[]>(
      'SELECT COUNT(*)::int AS n FROM end_users WHERE app_id = $1 AND created_by_account = $2',
      [appId, user.id],
    );
    expect(n).toBe(1);
    // The anonymous visitor cannot reach the user's conversation, nor can the owner.
    expect((await anonGet(`/conversations/${cid}/messages`, elsewhere.cookie)).code).toBe(
      'not_found',
    );
    expect((await anonGet(`/conversations/${cid}/messages`, owner)).code).toBe('not_found');
    const owners = await chat(token, owner, 'Mine?', cid);
    expect(JSON.parse(owners.raw).code).toBe('forbidden');
  });

  it('stops a turn only for the visitor who started it', async () => {
    const owner = await createAccount(t);
    const { token } = await publishedApp(owner);
    const a = await newVisitor(token);
    const b = await newVisitor(token);

    openai.enqueue({ type: 'text', chunks: ['a', 'b', 'c', 'd'], chunk_delay_ms: 100 });
    const s1 = openStream(
      `${t.url}/web-apps/${token}/chat`,
      { conversation_id: a.conversationId, query: 'Go' },
      { Cookie: a.cookie },
    );
    const f1 = await s1.waitFor((f) => f.event === 'agent_message');
    expect(
      await anonPost(`/web-apps/${token}/chat/${f1.data.task_id}/stop`, b.cookie),
    ).toMatchObject({ code: 'success' });
    expect(await anonPost(`/web-apps/${token}/chat/${f1.data.task_id}/stop`, owner)).toMatchObject({
      code: 'success',
    });
    await s1.done;
    expect(s1.frames.at(-1)!.event).toBe('agent_end');
    expect((await messageRow(f1.data.message_id)).status).toBe('normal');

    openai.enqueue({
      type: 'text',
      chunks: ['one ', 'two ', 'three ', 'four ', 'five ', 'six '],
      chunk_delay_ms: 150,
    });
    const s2 = openStream(
      `${t.url}/web-apps/${token}/chat`,
      { conversation_id: a.conversationId, query: 'Count slowly' },
      { Cookie: a.cookie },
    );
    const f2 = await s2.waitFor((f) => f.event === 'agent_message');
    const stopped = await anonPost(`/web-apps/${token}/chat/${f2.data.task_id}/stop`, a.cookie);
    expect(stopped).toMatchObject({ code: 'success', message: 'Stopped' });
    await s2.done;
    expect(s2.frames.at(-1)!.event).toBe('stop');
    const row = await messageRow(f2.data.message_id);
    expect(row.status).toBe('stop');
    expect(row.answer).not.toContain('six');
  });
});
