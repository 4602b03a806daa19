import { AIMessage, AIMessageChunk, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { FakeGemini, fakeEmbedding } from '@test/fakes/fake-gemini';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { catchError, text, usageRows, weatherTool } from '@test/support/model-test-utils';
import { EmbeddingService } from 'src/modules/model/runtime/embedding.service';
import { ModelRuntime, RuntimeContext } from 'src/modules/model/runtime/model-runtime.service';

/**
 * ModelRuntime and EmbeddingService for provider `gemini` against FakeGemini, through the real
 * `@google/generative-ai` client (global fetch, `GOOGLE_API_BASE` as its base URL).
 */

const FLASH = { provider: 'gemini', model: 'gemini-2.0-flash' };
const EMBED = { provider: 'gemini', model: 'text-embedding-004' };

describe('ModelRuntime (Gemini)', () => {
  let gemini: FakeGemini;
  let t: TestApp;
  let runtime: ModelRuntime;

  beforeAll(async () => {
    gemini = await FakeGemini.create({ requireKey: 'g-test' });
    t = await createTestApp({
      env: { GOOGLE_API_KEY: 'g-test', GOOGLE_API_BASE: gemini.url, MODEL_MAX_RETRIES: '0' },
    });
    runtime = t.app.get(ModelRuntime);
  });
  afterAll(async () => {
    await t?.close();
    await gemini?.close();
  });
  afterEach(() => {
    expect(gemini.pending).toBe(0);
    gemini.reset();
  });

  /** A fresh account per test: usage rows are counted per account (the database is shared). */
  const ctxFor = async (extra: Partial<RuntimeContext> = {}): Promise<RuntimeContext> => {
    const acc = await createAccount(t);
    return { accountId: acc.id, source: 'test.gemini', ...extra };
  };

  it('invokes gemini-2.0-flash and records one usage row with the catalog price', async () => {
    const ctx = await ctxFor();
    gemini.enqueue(
      {
        type: 'text',
        text: 'Paris is the capital.',
        usage: { prompt_tokens: 1000, completion_tokens: 500 },
      },
      FakeGemini.forModel('gemini-2.0-flash'),
    );
    const chat = await runtime.chat(
      { ...FLASH, parameters: { temperature: 0.2, max_tokens: 256 } },
      ctx,
    );
    const res = await chat.model.invoke([
      new SystemMessage('Be brief.'),
      new HumanMessage('Capital of France?'),
    ]);
    expect(res.content).toBe('Paris is the capital.');

    const req = gemini.lastRequest()!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(req.stream).toBe(false);
    // The server's key reached the fake (the fake also requires it: `requireKey`).
    expect(req.headers['x-goog-api-key'] ?? req.query.key).toBe('g-test');
    expect(req.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'Capital of France?' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.2, maxOutputTokens: 256 },
    });

    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      account_id: ctx.accountId,
      provider: 'gemini',
      model: 'gemini-2.0-flash',
      model_type: 'chat',
      source: 'test.gemini',
      prompt_tokens: 1000,
      completion_tokens: 500,
      total_tokens: 1500,
      estimated: false,
      currency: 'USD',
      status: 'success',
      error: null,
    });
    // (1000 * 0.1 + 500 * 0.4) / 1M
    expect(Number(rows[0].price)).toBeCloseTo(0.0003, 10);
    expect(chat.usage.last).toMatchObject({ prompt_tokens: 1000, completion_tokens: 500 });
  });

  it('streams deltas in order and records usage from the last chunk', async () => {
    const ctx = await ctxFor();
    const chunks = ['Once', ' upon', ' a', ' time', '.'];
    gemini.enqueue({
      type: 'text',
      chunks,
      usage: { prompt_tokens: 12, completion_tokens: 5 },
      chunk_delay_ms: 5,
    });
    const { model } = await runtime.chat(FLASH, ctx);
    const deltas: string[] = [];
    for await (const chunk of await model.stream([new HumanMessage('Tell a story')]))
      if (chunk.content) deltas.push(text(chunk.content));
    expect(deltas).toEqual(chunks);

    const req = gemini.lastRequest()!;
    expect(req.path).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent');
    expect(req.query.alt).toBe('sse');
    expect(req.stream).toBe(true);

    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      provider: 'gemini',
      prompt_tokens: 12,
      completion_tokens: 5,
      total_tokens: 17,
      status: 'success',
    });
    expect(Number(rows[0].price)).toBeCloseTo((12 * 0.1 + 5 * 0.4) / 1e6, 10);
  });

  it('parses a function call of a model with bound tools (invoke and stream)', async () => {
    const ctx = await ctxFor();
    gemini.enqueue({ type: 'tool_call', name: 'get_weather', arguments: { city: 'Paris' } });
    const { model } = await runtime.chat(FLASH, ctx);
    const res = (await model.bindTools!([weatherTool]).invoke([
      new HumanMessage('Weather in Paris?'),
    ])) as AIMessage;
    expect(res.tool_calls).toEqual([
      { name: 'get_weather', args: { city: 'Paris' }, id: expect.any(String), type: 'tool_call' },
    ]);
    expect(gemini.lastRequest()?.body.tools).toEqual([
      {
        functionDeclarations: [
          expect.objectContaining({
            name: 'get_weather',
            description: 'Current weather for a city',
          }),
        ],
      },
    ]);

    gemini.enqueue({ type: 'tool_call', name: 'get_weather', arguments: { city: 'Rome' } });
    let acc: AIMessageChunk | undefined;
    for await (const chunk of await model.bindTools!([weatherTool]).stream([
      new HumanMessage('Weather in Rome?'),
    ]))
      acc = acc ? acc.concat(chunk) : chunk;
    expect(acc?.tool_calls?.[0]).toMatchObject({ name: 'get_weather', args: { city: 'Rome' } });

    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 2);
    expect(rows.map((r) => r.status)).toEqual(['success', 'success']);
  });

  it.each([
    [400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'],
    [429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  ])('surfaces a %i as an error with an error usage row', async (status, _type, message) => {
    const ctx = await ctxFor();
    gemini.enqueue({ type: 'error', status, message });
    const { model } = await runtime.chat(FLASH, ctx);
    const err = await catchError(() => model.invoke([new HumanMessage('hi')]));
    expect(err.message).toContain(`[${status} `);
    expect(err.message).toContain(message);
    expect((err as Error & { status?: number }).status).toBe(status);
    // MODEL_MAX_RETRIES=0: exactly one attempt.
    expect(gemini.requestsTo('chat')).toHaveLength(1);
    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      provider: 'gemini',
      status: 'error',
      prompt_tokens: 0,
      completion_tokens: 0,
    });
    expect(rows[0].error).toContain(message);
  });

  it('fails a stream whose connection drops mid-way', async () => {
    const ctx = await ctxFor();
    gemini.enqueue({ type: 'disconnect_mid_stream', after_chunks: 2 });
    const { model } = await runtime.chat(FLASH, ctx);
    const deltas: string[] = [];
    const err = await catchError(async () => {
      for await (const chunk of await model.stream([new HumanMessage('hi')]))
        deltas.push(text(chunk.content));
    });
    expect(err).toBeInstanceOf(Error);
    expect(deltas.join('')).toBe('This a');
    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    expect(rows.map((r) => r.status)).toEqual(['error']);
  });

  it('stops a stream the caller aborts, without an unhandled rejection', async () => {
    const ctx = await ctxFor();
    gemini.enqueue({ type: 'text', chunks: ['one ', 'two ', 'three'], chunk_delay_ms: 100 });
    const { model } = await runtime.chat(FLASH, ctx);
    const ac = new AbortController();
    const deltas: string[] = [];
    const err = await catchError(async () => {
      for await (const chunk of await model.stream([new HumanMessage('hi')], {
        signal: ac.signal,
      })) {
        deltas.push(text(chunk.content));
        ac.abort();
      }
    });
    expect(err.message).toMatch(/abort/i);
    expect(deltas).toEqual(['one ']);
    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    // One row; the SDK reports the cut body read as "Error reading from the stream", so it is
    // recorded as `error` rather than `aborted` (unlike the other providers).
    expect(rows).toHaveLength(1);
    expect(['aborted', 'error']).toContain(rows[0].status);
    // Give a stray rejection of the client's aggregated response the time to surface.
    await new Promise((r) => setTimeout(r, 50));
  });

  it('gives up on a call that Google does not answer within the timeout', async () => {
    const ctx = await ctxFor({ timeoutMs: 300 });
    gemini.enqueue({ type: 'delay_headers', ms: 3000 });
    const chat = await runtime.chat(FLASH, ctx);
    const started = Date.now();
    const err = await catchError(() => chat.model.invoke([new HumanMessage('Hello?')]));
    expect(String(err)).toMatch(/abort|timed? ?out/i);
    expect(Date.now() - started).toBeLessThan(2500);
    // The fake's delayed answer is spent before the next test.
    await new Promise((r) => setTimeout(r, 3000));
  });

  it('fails an embedding batch that Google answers with an error instead of empty vectors', async () => {
    const ctx = await ctxFor();
    gemini.enqueue({ type: 'error', status: 500 }, { endpoint: 'embeddings' });
    await expect(
      t.app.get(EmbeddingService).embedDocuments(EMBED, ['a', 'b'], { ...ctx, source: 'test' }),
    ).rejects.toThrow(/empty or malformed vectors|vectors for/);
    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    expect(rows[0]).toMatchObject({ model_type: 'embedding', status: 'error' });
  });

  it('refuses an account base_url for Gemini (its SDK bypasses the outbound guard)', async () => {
    const acc = await createAccount(t);
    const res = await t
      .http()
      .post('/language-models/credentials/gemini')
      .set(acc.auth)
      .send({ api_key: 'g-mine', base_url: 'https://example.com' });
    expect(res.body.code).toBe('validate_error');
    expect(res.body.data.base_url[0]).toMatch(/takes no base_url/);
  });

  it('embeds documents with text-embedding-004 and returns the fake vectors', async () => {
    const ctx = await ctxFor();
    const texts = ['the quick brown fox', 'jumps over', 'the lazy dog'];
    const vectors = await t.app
      .get(EmbeddingService)
      .embedDocuments(EMBED, texts, { accountId: ctx.accountId, source: 'test' });
    expect(vectors).toEqual(texts.map((s) => fakeEmbedding(s, gemini.embeddingDimensions)));

    const reqs = gemini.requestsTo('embeddings');
    expect(reqs.length).toBeGreaterThanOrEqual(1);
    for (const r of reqs) {
      expect(r.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
      expect(r.headers['x-goog-api-key']).toBe('g-test');
      expect(r.body.requests[0]).toMatchObject({
        model: 'models/text-embedding-004',
        content: { role: 'user', parts: [{ text: expect.any(String) }] },
      });
    }
    expect(reqs.flatMap((r) => r.body.requests.map((q: any) => q.content.parts[0].text))).toEqual(
      texts,
    );

    const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
    expect(rows.length).toBe(reqs.length);
    expect(rows[0]).toMatchObject({
      provider: 'gemini',
      model: 'text-embedding-004',
      model_type: 'embedding',
      status: 'success',
      estimated: true,
    });
  });
});
