import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { postStream, usageRows } from '@test/support/model-test-utils';
import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { ConversationService } from 'src/modules/chat/conversation.service';
import { CredentialsService } from 'src/modules/model/credentials.service';
import { DataSource } from 'typeorm';

/**
 * The console's AI helpers (`/ai/*`) on AI_HELPER_MODEL with the caller's credentials: the
 * server has OpenAI's address (the fake) but no key, so only accounts with a key can use them.
 */

type Res = Promise<{ status: number; body: any; headers: Record<string, string> }>;

async function consoleCall(res: Res): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/application\/json/);
  return r.body;
}

describe('AI helpers', () => {
  let fake: FakeOpenAI;
  let t: TestApp;

  beforeAll(async () => {
    fake = await FakeOpenAI.create();
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: '',
        OPENAI_API_BASE: fake.baseURL,
        AI_HELPER_MODEL: 'openai/gpt-4o-mini',
        MODEL_MAX_RETRIES: '0',
        SSE_PING_INTERVAL_MS: '50',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  afterEach(() => {
    expect(fake.pending).toBe(0);
    fake.reset();
  });

  /** An account with its own OpenAI key (calls go to the fake, the server's OpenAI address). */
  const configuredAccount = async (): Promise<TestAccount & { key: string }> => {
    const acc = await createAccount(t);
    const key = `sk-ai-${randomBytes(10).toString('hex')}`;
    await t.app.get(CredentialsService).set(acc.id, 'openai', { api_key: key });
    return { ...acc, key };
  };
  const post = (acc: TestAccount, path: string, body: unknown) =>
    consoleCall(
      t
        .http()
        .post(path)
        .set(acc.auth)
        .send(body as object),
    );

  describe('POST /ai/optimize-prompt', () => {
    it('keeps a slow stream alive with comment lines: no event the console would append', async () => {
      // Measured against the original console: a `ping` event showed "undefined" in the prompt.
      const acc = await configuredAccount();
      fake.enqueue({ type: 'text', chunks: ['a', 'b', 'c'], chunk_delay_ms: 120 });
      const res = await postStream(t.url, '/ai/optimize-prompt', { prompt: 'slow' }, acc.auth);
      expect(res.comments.length).toBeGreaterThanOrEqual(2);
      expect(res.frames.map((f) => f.event)).toEqual([
        'optimize_prompt',
        'optimize_prompt',
        'optimize_prompt',
      ]);
      expect(res.frames.map((f) => f.data.optimize_prompt).join('')).toBe('abc');
    });

    it('streams optimize_prompt frames that add up to the model answer', async () => {
      const acc = await configuredAccount();
      const chunks = ['# Role\n', 'You are a ', 'travel planner', ' for {{city}}.\n', '## Skills'];
      fake.enqueue({ type: 'text', chunks, usage: { prompt_tokens: 80, completion_tokens: 12 } });
      const res = await postStream(
        t.url,
        '/ai/optimize-prompt',
        { prompt: 'help plan trips to {{city}}' },
        acc.auth,
      );
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(res.headers['content-type']).not.toMatch(/application\/json/);
      expect(res.headers['cache-control']).toMatch(/no-cache/);
      expect(res.headers['x-accel-buffering']).toBe('no');
      expect(res.raw).toMatch(/^((event: \w+\ndata: \{.*\}|: ping)\n\n)+$/);
      const frames = res.frames;
      expect(frames.length).toBeGreaterThan(0);
      expect(frames.every((f) => f.event === 'optimize_prompt')).toBe(true);
      expect(frames.every((f) => Object.keys(f.data).join() === 'optimize_prompt')).toBe(true);
      expect(frames.map((f) => f.data.optimize_prompt)).toEqual(chunks);
      expect(frames.map((f) => f.data.optimize_prompt).join('')).toBe(chunks.join(''));

      // The caller's key, the helper model, a system prompt and the user's prompt verbatim.
      const req = fake.lastRequest()!;
      expect(req.headers.authorization).toBe(`Bearer ${acc.key}`);
      expect(req.stream).toBe(true);
      expect(req.body.model).toBe('gpt-4o-mini');
      expect(req.body.messages).toEqual([
        { role: 'system', content: expect.stringMatching(/prompt engineer/) },
        { role: 'user', content: 'help plan trips to {{city}}' },
      ]);
      const rows = await usageRows(t, acc.id, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        source: 'ai.optimize-prompt',
        provider: 'openai',
        model: 'gpt-4o-mini',
        prompt_tokens: 80,
        completion_tokens: 12,
        status: 'success',
      });
    });

    it.each([
      ['an empty prompt', { prompt: '' }, 'prompt is required'],
      ['a missing prompt', {}, 'prompt is required'],
      [
        'a prompt over 2000 characters',
        { prompt: 'x'.repeat(2001) },
        'prompt must be at most 2000 characters',
      ],
      ['a prompt that is not a string', { prompt: 42 }, 'prompt must be a string'],
    ])('answers a validate_error envelope, not a stream, for %s', async (_label, body, message) => {
      const acc = await configuredAccount();
      const res = await postStream(t.url, '/ai/optimize-prompt', body, acc.auth);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      const envelope = JSON.parse(res.raw);
      expect(envelope.code).toBe('validate_error');
      expect(envelope.message).toBe(message);
      expect(envelope.data.prompt).toContain(message);
      expect(fake.requests).toHaveLength(0);
    });

    it('accepts a prompt of exactly 2000 characters', async () => {
      const acc = await configuredAccount();
      fake.enqueue({ type: 'text', text: 'short' });
      const res = await postStream(
        t.url,
        '/ai/optimize-prompt',
        { prompt: 'y'.repeat(2000) },
        acc.auth,
      );
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(res.frames.map((f) => f.data.optimize_prompt).join('')).toBe('short');
    });

    it('ends with an error frame when the model fails after the stream opened', async () => {
      const acc = await configuredAccount();
      fake.enqueue({
        type: 'stream_error',
        after_chunks: 2,
        message: 'upstream overloaded',
        text: 'abcdefghijkl',
      });
      const res = await postStream(
        t.url,
        '/ai/optimize-prompt',
        { prompt: 'improve me' },
        acc.auth,
      );
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      const frames = res.frames;
      expect(frames.map((f) => f.event)).toEqual(['optimize_prompt', 'optimize_prompt', 'error']);
      expect(
        frames
          .slice(0, 2)
          .map((f) => f.data.optimize_prompt)
          .join(''),
      ).toBe('abcdef');
      expect(frames[2].data.observation).toMatch(/upstream overloaded/);
      const rows = await usageRows(t, acc.id, (r) => r.length >= 1);
      expect(rows.map((r) => r.status)).toEqual(['error']);
    });

    it('ends with an error frame when the model call is refused', async () => {
      const acc = await configuredAccount();
      fake.enqueue({ type: 'error', status: 401, message: 'Incorrect API key provided' });
      const res = await postStream(
        t.url,
        '/ai/optimize-prompt',
        { prompt: 'improve me' },
        acc.auth,
      );
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      const frames = res.frames;
      expect(frames.map((f) => f.event)).toEqual(['error']);
      expect(frames[0].data.observation).toMatch(/Incorrect API key/);
      expect(res.raw).not.toContain(acc.key);
    });

    it('stops the model call when the client goes away', async () => {
      const acc = await configuredAccount();
      fake.enqueue({
        type: 'text',
        chunks: Array.from({ length: 100 }, (_, i) => `p${i} `),
        chunk_delay_ms: 30,
      });
      await new Promise<void>((resolve, reject) => {
        const req = http.request(`${t.url}/ai/optimize-prompt`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...acc.auth },
        });
        req.on('error', () => resolve());
        req.on('response', (res) => {
          res.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('event: optimize_prompt')) {
              req.destroy();
              resolve();
            }
          });
          res.on('error', () => resolve());
          res.on('end', () => reject(new Error('the stream should not have ended')));
        });
        req.end(JSON.stringify({ prompt: 'improve me' }));
      });
      const rows = await usageRows(t, acc.id, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ source: 'ai.optimize-prompt', status: 'aborted' });
      expect(rows[0].latency_ms).toBeLessThan(2000); // not the 3 s the whole answer takes
    });

    it('answers a JSON fail before any stream when the provider is not configured', async () => {
      const acc = await createAccount(t);
      const res = await postStream(
        t.url,
        '/ai/optimize-prompt',
        { prompt: 'improve me' },
        acc.auth,
      );
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      const envelope = JSON.parse(res.raw);
      expect(envelope.code).toBe('fail');
      expect(envelope.message).toMatch(/OpenAI is not configured/);
      expect(envelope.message).toMatch(/OPENAI_API_KEY/);
      expect(fake.requests).toHaveLength(0);
    });

    it('needs a signed-in account', async () => {
      const res = await postStream(t.url, '/ai/optimize-prompt', { prompt: 'improve me' });
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(JSON.parse(res.raw).code).toBe('unauthorized');
    });
  });

  describe('POST /ai/suggested-questions', () => {
    it('parses up to three questions from a JSON array answer', async () => {
      const acc = await configuredAccount();
      fake.enqueue({
        type: 'text',
        text: '["What about hotels?", "Is May a good time?", " ", "How do I get around?", "A fourth one?"]',
      });
      const res = await post(acc, '/ai/suggested-questions', {
        query: 'Plan three days in Lisbon',
        answer: 'Day 1: Alfama. Day 2: Belém. Day 3: Sintra.',
      });
      expect(res).toEqual({
        code: 'success',
        message: expect.any(String),
        data: ['What about hotels?', 'Is May a good time?', 'How do I get around?'],
      });
      const req = fake.lastRequest()!;
      expect(req.stream).toBe(false);
      expect(req.headers.authorization).toBe(`Bearer ${acc.key}`);
      expect(req.body.messages[0].role).toBe('system');
      expect(req.body.messages[1].content).toBe(
        'User: Plan three days in Lisbon\nAssistant: Day 1: Alfama. Day 2: Belém. Day 3: Sintra.',
      );
      const rows = await usageRows(t, acc.id, (r) => r.length >= 1);
      expect(rows[0]).toMatchObject({ source: 'ai.suggested-questions', status: 'success' });
    });

    it('parses a JSON array wrapped in prose or a code fence', async () => {
      const acc = await configuredAccount();
      fake.enqueue({
        type: 'text',
        text: 'Sure! Here they are:\n```json\n["One?", "Two?"]\n```',
      });
      const res = await post(acc, '/ai/suggested-questions', { query: 'q', answer: 'a' });
      expect(res.data).toEqual(['One?', 'Two?']);
    });

    it('parses a bulleted prose answer', async () => {
      const acc = await configuredAccount();
      fake.enqueue({
        type: 'text',
        text: 'Here are three follow-up questions:\n\n- What should I pack?\n* How much does it cost?\n1. Can I bring my dog?\n2. Is there a fourth?',
      });
      const res = await post(acc, '/ai/suggested-questions', {
        query: 'Going camping',
        answer: 'Have fun',
      });
      expect(res.code).toBe('success');
      expect(res.data).toEqual([
        'What should I pack?',
        'How much does it cost?',
        'Can I bring my dog?',
      ]);
    });

    it('parses plain lines', async () => {
      const acc = await configuredAccount();
      fake.enqueue({ type: 'text', text: 'Why?\nHow?\n' });
      const res = await post(acc, '/ai/suggested-questions', { query: 'q' });
      expect(res.data).toEqual(['Why?', 'How?']);
      expect(fake.lastRequest()?.body.messages[1].content).toBe('User: q\nAssistant: ');
    });

    it('answers not_found for a message that does not exist', async () => {
      const acc = await configuredAccount();
      const res = await post(acc, '/ai/suggested-questions', {
        message_id: '00000000-0000-4000-8000-000000000000',
      });
      expect(res.code).toBe('not_found');
      expect(fake.requests).toHaveLength(0);
    });

    it('follows up on a stored message of the account, and on nobody else’s', async () => {
      const acc = await configuredAccount();
      const other = await configuredAccount();
      const store = t.app.get(ConversationService);
      const conversation = await store.createConversation({
        accountId: acc.id,
        appId: null,
        invokeFrom: 'assistant_agent',
        createdBy: acc.id,
      });
      const message = await store.startMessage({ conversation, query: 'Plan a trip to Kyoto' });
      await store.finishMessage(message, {
        answer: 'Go in autumn.',
        status: 'normal',
        latency: 0.5,
        thoughts: [],
      });
      fake.enqueue({ type: 'text', text: 'When is autumn?\nWhere to stay?' });
      const res = await post(acc, '/ai/suggested-questions', { message_id: message.id });
      expect(res.code).toBe('success');
      expect(res.data).toEqual(['When is autumn?', 'Where to stay?']);
      expect(fake.lastRequest()?.body.messages[1].content).toBe(
        'User: Plan a trip to Kyoto\nAssistant: Go in autumn.',
      );
      const theirs = await post(other, '/ai/suggested-questions', { message_id: message.id });
      expect(theirs.code).toBe('not_found');
    });

    it('follows up on a web-app message its signed-in visitor sent, for that visitor only', async () => {
      const owner = await configuredAccount();
      const visitor = await configuredAccount();
      const stranger = await configuredAccount();
      const db = t.app.get(DataSource);
      const appId = randomUUID();
      const endUser = async (createdByAccount: string | null) =>
        (
          await db.query<Array<{ id: string }>>(
            `INSERT INTO end_users (account_id, app_id, created_by_account) VALUES ($1, $2, $3)
             RETURNING id`,
            [owner.id, appId, createdByAccount],
          )
        )[0].id;
      const store = t.app.get(ConversationService);
      const sent = async (createdBy: string) => {
        const conversation = await store.createConversation({
          accountId: owner.id,
          appId,
          invokeFrom: 'web_app',
          createdBy,
        });
        const message = await store.startMessage({ conversation, query: 'Where is Gion?' });
        await store.finishMessage(message, {
          answer: 'In Kyoto.',
          status: 'normal',
          latency: 0.1,
          thoughts: [],
        });
        return message.id;
      };
      const visitorsMessage = await sent(await endUser(visitor.id));
      const anonymousMessage = await sent(await endUser(null));

      fake.enqueue({ type: 'text', text: 'How do I get there?' });
      const res = await post(visitor, '/ai/suggested-questions', { message_id: visitorsMessage });
      expect(res).toMatchObject({ code: 'success', data: ['How do I get there?'] });
      for (const [acc, id] of [
        [stranger, visitorsMessage],
        [visitor, anonymousMessage],
        [stranger, anonymousMessage],
      ] as const) {
        const denied = await post(acc, '/ai/suggested-questions', { message_id: id });
        expect(denied.code).toBe('not_found');
      }
    });

    it('validates the body', async () => {
      const acc = await configuredAccount();
      const none = await post(acc, '/ai/suggested-questions', {});
      expect(none.code).toBe('validate_error');
      expect(none.data.message_id).toBeDefined();
      const badId = await post(acc, '/ai/suggested-questions', { message_id: 'nope' });
      expect(badId.code).toBe('validate_error');
      expect(badId.data.message_id).toContain('message_id must be a UUID');
      const long = await post(acc, '/ai/suggested-questions', { query: 'q'.repeat(4001) });
      expect(long.code).toBe('validate_error');
      expect(long.data.query).toBeDefined();
      const blank = await post(acc, '/ai/suggested-questions', { query: '   ', answer: 'a' });
      expect(blank.code).toBe('fail');
      expect(fake.requests).toHaveLength(0);
    });

    it('answers fail when the provider is not configured', async () => {
      const acc = await createAccount(t);
      const res = await post(acc, '/ai/suggested-questions', { query: 'q', answer: 'a' });
      expect(res.code).toBe('fail');
      expect(res.message).toMatch(/OPENAI_API_KEY/);
    });
  });

  describe('POST /ai/auto-generate-prompt', () => {
    it('answers {prompt} written by the model', async () => {
      const acc = await configuredAccount();
      const prompt = '# Role\nYou are a travel planner.\n## Skills\n### Skill 1: Itineraries';
      fake.enqueue({ type: 'text', text: `\n${prompt}\n  ` });
      const res = await post(acc, '/ai/auto-generate-prompt', {
        description: 'A travel planner that builds day-by-day itineraries',
      });
      expect(res).toEqual({ code: 'success', message: expect.any(String), data: { prompt } });
      const req = fake.lastRequest()!;
      expect(req.body.messages).toEqual([
        { role: 'system', content: expect.stringMatching(/system prompt/) },
        { role: 'user', content: 'A travel planner that builds day-by-day itineraries' },
      ]);
      const rows = await usageRows(t, acc.id, (r) => r.length >= 1);
      expect(rows[0]).toMatchObject({ source: 'ai.auto-generate-prompt', status: 'success' });
    });

    it.each([
      ['an empty', { description: '' }, 'description is required'],
      ['a missing', {}, 'description is required'],
      [
        'too long',
        { description: 'd'.repeat(1001) },
        'description must be at most 1000 characters',
      ],
    ])('answers validate_error for %s description', async (_label, body, message) => {
      const acc = await configuredAccount();
      const res = await post(acc, '/ai/auto-generate-prompt', body);
      expect(res.code).toBe('validate_error');
      expect(res.message).toBe(message);
      expect(res.data.description).toContain(message);
      expect(fake.requests).toHaveLength(0);
    });

    it('answers fail when the model returns nothing or fails', async () => {
      const acc = await configuredAccount();
      fake.enqueue({ type: 'text', text: '   ' });
      const empty = await post(acc, '/ai/auto-generate-prompt', { description: 'a bot' });
      expect(empty.code).toBe('fail');
      expect(empty.message).toMatch(/empty prompt/);
      fake.enqueue({ type: 'error', status: 500 });
      const failed = await post(acc, '/ai/auto-generate-prompt', { description: 'a bot' });
      expect(failed.code).toBe('fail');
      // The provider's reason reaches the user, not a generic internal error.
      expect(failed.message).toMatch(/^The model call failed: /);
      expect(JSON.stringify(failed)).not.toContain(acc.key);
    });

    it('answers fail when the provider is not configured', async () => {
      const acc = await createAccount(t);
      const res = await post(acc, '/ai/auto-generate-prompt', { description: 'a bot' });
      expect(res.code).toBe('fail');
      expect(res.message).toMatch(/OPENAI_API_KEY/);
      expect(fake.requests).toHaveLength(0);
    });
  });
});
