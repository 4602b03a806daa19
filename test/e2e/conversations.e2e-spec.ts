import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { ConversationService, type StoredThought } from 'src/modules/chat/conversation.service';
import { EndUserService } from 'src/modules/chat/end-user.service';
import type { ConversationEntity } from 'src/modules/chat/entities/conversation.entity';
import type { MessageStatus } from 'src/modules/chat/entities/message.entity';
import { DataSource } from 'typeorm';

/**
 * The conversation store as the console reads it: message items with their steps (CONSOLE-SHAPES
 * §4.6), only finished answers, the created_at cursor with paging, rename/pin/delete of a
 * conversation and of a message, the assistant agent's conversation on the home page, and no
 * account ever reaching another's conversation.
 */
type Json = Record<string, any>;

describe('Conversations and the assistant agent’s messages (e2e)', () => {
  let t: TestApp;
  let store: ConversationService;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await createTestApp();
    store = t.app.get(ConversationService);
    alice = await createAccount(t);
    bob = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  const get = async (who: TestAccount, p: string) =>
    (await t.http().get(p).set(who.auth)).body as { code: string; message: string; data: Json };
  const post = async (who: TestAccount, p: string, body: Json = {}) =>
    (await t.http().post(p).set(who.auth).send(body)).body as {
      code: string;
      message: string;
      data: Json;
    };

  const sql = <T>(text: string, params: unknown[]): Promise<T[]> =>
    t.app.get(DataSource).query<T[]>(text, params);

  const conversationOf = (acc: TestAccount, invokeFrom: 'web_app' | 'assistant_agent') =>
    store.createConversation({
      accountId: acc.id,
      appId: null,
      invokeFrom,
      createdBy: acc.id,
    });

  /** A finished message, back-dated `secondsAgo` (rows written in one test share a second). */
  async function message(
    c: ConversationEntity,
    query: string,
    opts: {
      answer?: string;
      status?: MessageStatus;
      secondsAgo?: number;
      thoughts?: StoredThought[];
    } = {},
  ): Promise<string> {
    const m = await store.startMessage({ conversation: c, query });
    await store.finishMessage(m, {
      answer: opts.answer ?? `answer to ${query}`,
      status: opts.status ?? 'normal',
      message_token_count: 12,
      answer_token_count: 30,
      latency: 1.25,
      thoughts: opts.thoughts ?? [],
    });
    if (opts.secondsAgo) {
      await t.app
        .get(DataSource)
        .query(`UPDATE messages SET created_at = now() - make_interval(secs => $2) WHERE id = $1`, [
          m.id,
          opts.secondsAgo,
        ]);
    }
    return m.id;
  }

  describe('GET /assistant-agent/messages', () => {
    it('answers an empty page before the first chat (the home page loads it after sign-in)', async () => {
      const fresh = await createAccount(t);
      const res = await get(
        fresh,
        '/assistant-agent/messages?current_page=1&page_size=5&created_at=0',
      );
      expect(res).toEqual({
        code: 'success',
        message: '',
        data: {
          list: [],
          paginator: { current_page: 1, page_size: 5, total_page: 0, total_record: 0 },
        },
      });
    });

    it('lists finished messages newest first, each with its steps in order', async () => {
      const acc = await createAccount(t);
      const c = await conversationOf(acc, 'assistant_agent');
      await message(c, 'first', { secondsAgo: 30 });
      const withSteps = await message(c, 'weather?', {
        secondsAgo: 20,
        thoughts: [
          { event: 'agent_thought', thought: 'I should call the weather tool', latency: 0.4 },
          {
            event: 'agent_action',
            tool: 'gaode_weather',
            tool_input: { city: 'Beijing' },
            observation: '{"temp": 3}',
            latency: 0.2,
          },
          { event: 'agent_message', thought: 'It is 3 degrees.', latency: 0.6 },
        ],
      });
      await message(c, 'stopped halfway', { status: 'stop', answer: 'partial', secondsAgo: 10 });
      // Not listed: an error, a timeout, a turn still without an answer.
      await message(c, 'broken', { status: 'error', answer: 'x' });
      await message(c, 'slow', { status: 'timeout', answer: 'y' });
      await store.startMessage({ conversation: c, query: 'in flight' });

      const res = await get(acc, '/assistant-agent/messages?current_page=1&page_size=5');
      expect(res.code).toBe('success');
      expect(res.data.paginator).toEqual({
        current_page: 1,
        page_size: 5,
        total_page: 1,
        total_record: 3,
      });
      expect(res.data.list.map((m: Json) => m.query)).toEqual([
        'stopped halfway',
        'weather?',
        'first',
      ]);
      const item = res.data.list[1];
      expect(Object.keys(item).sort()).toEqual(
        [
          'id',
          'conversation_id',
          'query',
          'image_urls',
          'answer',
          'total_token_count',
          'latency',
          'agent_thoughts',
          'created_at',
        ].sort(),
      );
      expect(item).toMatchObject({
        id: withSteps,
        conversation_id: c.id,
        image_urls: [],
        answer: 'answer to weather?',
        total_token_count: 42,
        latency: 1.25,
      });
      expect(typeof item.created_at).toBe('number');
      expect(item.agent_thoughts.map((s: Json) => [s.position, s.event])).toEqual([
        [1, 'agent_thought'],
        [2, 'agent_action'],
        [3, 'agent_message'],
      ]);
      expect(item.agent_thoughts[1]).toMatchObject({
        tool: 'gaode_weather',
        tool_input: { city: 'Beijing' },
        observation: '{"temp": 3}',
        latency: 0.2,
      });
      expect(Object.keys(item.agent_thoughts[0]).sort()).toEqual(
        [
          'id',
          'position',
          'event',
          'thought',
          'observation',
          'tool',
          'tool_input',
          'latency',
          'created_at',
        ].sort(),
      );
    });

    it('pages with the created_at cursor (created_at <= cursor) combined with offset paging', async () => {
      const acc = await createAccount(t);
      const c = await conversationOf(acc, 'assistant_agent');
      for (let i = 1; i <= 6; i++) await message(c, `q${i}`, { secondsAgo: 100 - i * 10 });
      const page1 = await get(acc, '/assistant-agent/messages?current_page=1&page_size=2');
      expect(page1.data.list.map((m: Json) => m.query)).toEqual(['q6', 'q5']);
      const page2 = await get(
        acc,
        '/assistant-agent/messages?current_page=2&page_size=2&created_at=0',
      );
      expect(page2.data.list.map((m: Json) => m.query)).toEqual(['q4', 'q3']);
      // With a cursor at q4's second, rows newer than it drop out before the offset applies.
      const cursor = page2.data.list[0].created_at as number;
      const cursored = await get(
        acc,
        `/assistant-agent/messages?current_page=1&page_size=2&created_at=${cursor}`,
      );
      expect(cursored.data.list.map((m: Json) => m.query)).toEqual(['q4', 'q3']);
      expect(cursored.data.paginator.total_record).toBe(4);

      const bad = await get(acc, '/assistant-agent/messages?created_at=yesterday');
      expect(bad.code).toBe('validate_error');
      expect(bad.data.created_at).toContain('created_at must be an integer');
      expect((await get(acc, '/assistant-agent/messages?created_at=-1')).code).toBe(
        'validate_error',
      );
    });

    it('delete-conversation starts over; another account never sees the messages', async () => {
      const acc = await createAccount(t);
      const c = await conversationOf(acc, 'assistant_agent');
      await message(c, 'remember me');
      expect((await get(bob, '/assistant-agent/messages')).data.list).toEqual([]);
      const del = await post(acc, '/assistant-agent/delete-conversation');
      expect(del).toMatchObject({ code: 'success', message: 'Assistant conversation cleared' });
      expect((await get(acc, '/assistant-agent/messages')).data.list).toEqual([]);
      // The messages themselves stay (analysis), only detached.
      const [{ n }] = await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1`,
        [c.id],
      );
      expect(n).toBe(1);
    });
  });

  describe('/conversations/:conversation_id', () => {
    it('lists messages, names, renames, pins and deletes a conversation of the account', async () => {
      const c = await conversationOf(alice, 'web_app');
      await message(c, 'hello', { secondsAgo: 5 });
      const m2 = await message(c, 'second');
      const list = await get(alice, `/conversations/${c.id}/messages?page_size=5`);
      expect(list.data.list.map((m: Json) => m.query)).toEqual(['second', 'hello']);

      expect((await get(alice, `/conversations/${c.id}/name`)).data).toEqual({
        name: 'New Conversation',
      });
      const renamed = await post(alice, `/conversations/${c.id}/name`, { name: '  Trip plans  ' });
      expect(renamed).toMatchObject({ code: 'success', message: 'Conversation renamed' });
      expect((await get(alice, `/conversations/${c.id}/name`)).data.name).toBe('Trip plans');

      const pinned = await post(alice, `/conversations/${c.id}/is-pinned`, { is_pinned: true });
      expect(pinned).toMatchObject({ code: 'success', message: 'Conversation pin updated' });
      const [{ is_pinned }] = await sql<{ is_pinned: boolean }>(
        `SELECT is_pinned FROM conversations WHERE id = $1`,
        [c.id],
      );
      expect(is_pinned).toBe(true);
      await post(alice, `/conversations/${c.id}/is-pinned`, {});
      const [after] = await sql<{ is_pinned: boolean }>(
        `SELECT is_pinned FROM conversations WHERE id = $1`,
        [c.id],
      );
      expect(after.is_pinned).toBe(false);

      const delMsg = await post(alice, `/conversations/${c.id}/messages/${m2}/delete`);
      expect(delMsg).toMatchObject({ code: 'success', message: 'Message deleted' });
      expect(
        (await get(alice, `/conversations/${c.id}/messages`)).data.list.map((m: Json) => m.query),
      ).toEqual(['hello']);
      expect((await post(alice, `/conversations/${c.id}/messages/${m2}/delete`)).code).toBe(
        'not_found',
      );

      const del = await post(alice, `/conversations/${c.id}/delete`);
      expect(del).toMatchObject({ code: 'success', message: 'Conversation deleted' });
      expect((await get(alice, `/conversations/${c.id}/messages`)).code).toBe('not_found');
      expect((await get(alice, `/conversations/${c.id}/name`)).code).toBe('not_found');
    });

    it('validates the name and the pin flag', async () => {
      const c = await conversationOf(alice, 'web_app');
      const empty = await post(alice, `/conversations/${c.id}/name`, { name: '   ' });
      expect(empty.code).toBe('validate_error');
      expect(empty.data.name).toEqual(['name is required']);
      const long = await post(alice, `/conversations/${c.id}/name`, { name: 'x'.repeat(101) });
      expect(long.data.name).toEqual(['name must be at most 100 characters']);
      const notString = await post(alice, `/conversations/${c.id}/name`, { name: 42 });
      expect(notString.code).toBe('validate_error');
      const pin = await post(alice, `/conversations/${c.id}/is-pinned`, { is_pinned: 'maybe' });
      expect(pin.data.is_pinned).toEqual(['is_pinned must be true or false']);
      expect((await get(alice, `/conversations/${c.id}/name`)).data.name).toBe('New Conversation');
    });

    it('answers not_found for another account’s conversation and changes nothing', async () => {
      const c = await conversationOf(alice, 'web_app');
      const m = await message(c, 'private');
      for (const res of [
        await get(bob, `/conversations/${c.id}/messages`),
        await get(bob, `/conversations/${c.id}/name`),
        await post(bob, `/conversations/${c.id}/name`, { name: 'mine now' }),
        await post(bob, `/conversations/${c.id}/is-pinned`, { is_pinned: true }),
        await post(bob, `/conversations/${c.id}/messages/${m}/delete`),
        await post(bob, `/conversations/${c.id}/delete`),
      ]) {
        expect(res).toMatchObject({
          code: 'not_found',
          message: 'The conversation does not exist',
        });
      }
      expect((await get(alice, `/conversations/${c.id}/name`)).data.name).toBe('New Conversation');
      expect((await get(alice, `/conversations/${c.id}/messages`)).data.list).toHaveLength(1);
      // A message of another conversation cannot be deleted through this one.
      const mine = await conversationOf(bob, 'web_app');
      expect((await post(bob, `/conversations/${mine.id}/messages/${m}/delete`)).code).toBe(
        'not_found',
      );
      expect((await get(alice, `/conversations/${c.id}/messages`)).data.list).toHaveLength(1);
      expect((await get(alice, '/conversations/not-a-uuid/name')).code).toBe('not_found');
    });

    it('needs a token', async () => {
      for (const res of [
        await t.http().get('/assistant-agent/messages'),
        await t.http().get('/conversations/00000000-0000-4000-8000-000000000000/name'),
      ]) {
        expect((res.body as { code: string }).code).toBe('unauthorized');
      }
    });
  });

  describe('end users', () => {
    it('belong to one app of one account', async () => {
      const users = t.app.get(EndUserService);
      const appId = '11111111-1111-4111-8111-111111111111';
      const otherApp = '22222222-2222-4222-8222-222222222222';
      const u = await users.create(alice.id, appId);
      expect((await users.ofApp(alice.id, appId, u.id))?.id).toBe(u.id);
      expect(await users.ofApp(alice.id, otherApp, u.id)).toBeNull();
      expect(await users.ofApp(bob.id, appId, u.id)).toBeNull();
      expect(await users.ofApp(alice.id, appId, 'not-a-uuid')).toBeNull();
    });
  });
});
