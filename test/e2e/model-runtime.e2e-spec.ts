import { ValidateError, FailException } from '@app/common';
import { AIMessage, AIMessageChunk, HumanMessage } from '@langchain/core/messages';
import { FakeAnthropic } from '@test/fakes/fake-anthropic';
import { fakeEmbedding } from '@test/fakes/fake-llm-common';
import { FakeOllama } from '@test/fakes/fake-ollama';
import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { catchError, text, usageRows, weatherTool } from '@test/support/model-test-utils';
import { randomBytes } from 'node:crypto';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { CredentialsService } from 'src/modules/model/credentials.service';
import { EmbeddingService } from 'src/modules/model/runtime/embedding.service';
import { ModelRuntime, RuntimeContext } from 'src/modules/model/runtime/model-runtime.service';

/**
 * ModelRuntime and EmbeddingService against the fake providers, through the real LangChain
 * clients: usage rows, retries honouring Retry-After, timeouts, aborts, parameter checks.
 */

const MINI = { provider: 'openai', model: 'gpt-4o-mini' };
const HAIKU = { provider: 'anthropic', model: 'claude-3-5-haiku-latest' };
const QWEN = { provider: 'ollama', model: 'qwen2.5:7b' };

describe('ModelRuntime', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let ollama: FakeOllama;
  let t: TestApp;
  let runtime: ModelRuntime;

  beforeAll(async () => {
    [openai, anthropic, ollama] = await Promise.all([
      FakeOpenAI.create(),
      FakeAnthropic.create(),
      FakeOllama.create(),
    ]);
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_API_BASE: anthropic.url,
        OLLAMA_BASE_URL: ollama.url,
        OPENAI_COMPATIBLE_API_BASE: '',
        MODEL_MAX_RETRIES: '1',
        MODEL_TIMEOUT_MS: '2000',
        EMBEDDING_BATCH_SIZE: '3',
        EMBEDDING_CONCURRENCY: '2',
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      },
    });
    runtime = t.app.get(ModelRuntime);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([openai?.close(), anthropic?.close(), ollama?.close()]);
  });
  afterEach(() => {
    expect(openai.pending + anthropic.pending + ollama.pending).toBe(0);
    openai.reset();
    anthropic.reset();
    ollama.reset();
  });

  /** A fresh account per test: usage rows are counted per account (the database is shared). */
  const ctxFor = async (extra: Partial<RuntimeContext> = {}): Promise<RuntimeContext> => {
    const acc = await createAccount(t);
    return { accountId: acc.id, source: 'test.runtime', ...extra };
  };

  describe('OpenAI', () => {
    it('invokes and records one usage row with the catalog price', async () => {
      const ctx = await ctxFor();
      openai.enqueue({
        type: 'delay_first_token',
        ms: 30,
        then: {
          type: 'text',
          text: 'Paris is the capital.',
          usage: { prompt_tokens: 1000, completion_tokens: 500 },
        },
      });
      const chat = await runtime.chat({ ...MINI, parameters: { temperature: 0.2 } }, ctx);
      expect(chat.catalog).toMatchObject({ provider: 'openai', model_name: 'gpt-4o-mini' });
      expect(chat.parameters).toMatchObject({ temperature: 0.2, max_tokens: 4096 });
      const res = await chat.model.invoke([new HumanMessage('Capital of France?')]);
      expect(res.content).toBe('Paris is the capital.');
      const req = openai.lastRequest()!;
      expect(req.headers.authorization).toBe('Bearer sk-test');
      expect(req.body).toMatchObject({
        model: 'gpt-4o-mini',
        temperature: 0.2,
        max_tokens: 4096,
        messages: [{ role: 'user', content: 'Capital of France?' }],
      });
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        account_id: ctx.accountId,
        provider: 'openai',
        model: 'gpt-4o-mini',
        model_type: 'chat',
        source: 'test.runtime',
        prompt_tokens: 1000,
        completion_tokens: 500,
        total_tokens: 1500,
        estimated: false,
        currency: 'USD',
        status: 'success',
        error: null,
      });
      // (1000 * 0.15 + 500 * 0.6) / 1M
      expect(Number(rows[0].price)).toBeCloseTo(0.00045, 10);
      expect(rows[0].latency_ms).toBeGreaterThanOrEqual(25);
      expect(rows[0].latency_ms).toBeLessThan(2000);
      expect(chat.usage.last).toMatchObject({
        prompt_tokens: 1000,
        completion_tokens: 500,
        price: 0.00045,
        status: 'success',
      });
    });

    it('reuses the OpenAI client of one setup, and never mixes keys or parameters', async () => {
      const inner = (m: unknown) => (m as { completions: { client?: unknown } }).completions;
      const ctx = await ctxFor();
      const ask = async (parameters: Record<string, unknown>, c: RuntimeContext = ctx) => {
        openai.enqueue({ type: 'text', text: 'ok' });
        const chat = await runtime.chat({ ...MINI, parameters }, c);
        await chat.model.invoke([new HumanMessage('hi')]);
        return { chat, req: openai.lastRequest()! };
      };
      const a = await ask({ temperature: 0.3 });
      const b = await ask({ temperature: 0.3 });
      // Two calls, one setup: one inner model and client; each call its own usage recorder.
      expect(inner(b.chat.model)).toBe(inner(a.chat.model));
      expect(inner(a.chat.model).client).toBeDefined();
      expect(b.chat.usage).not.toBe(a.chat.usage);
      const c = await ask({ temperature: 0.9 });
      expect(inner(c.chat.model)).not.toBe(inner(a.chat.model));
      expect(c.req.body).toMatchObject({ temperature: 0.9 });
      expect(b.req.body).toMatchObject({ temperature: 0.3 });
      // Another account's own key is another setup: its requests carry its key.
      const other = await ctxFor();
      await t.app.get(CredentialsService).set(other.accountId!, 'openai', {
        api_key: 'sk-other-account',
        base_url: openai.baseURL,
      });
      const d = await ask({ temperature: 0.3 }, other);
      expect(d.req.headers.authorization).toBe('Bearer sk-other-account');
      expect(inner(d.chat.model)).not.toBe(inner(a.chat.model));
      expect((await ask({ temperature: 0.3 })).req.headers.authorization).toBe('Bearer sk-test');
    });

    it('streams deltas in order and records usage from the include_usage chunk', async () => {
      const ctx = await ctxFor();
      const chunks = ['Once', ' upon', ' a', ' time', '.'];
      openai.enqueue({
        type: 'text',
        chunks,
        usage: { prompt_tokens: 12, completion_tokens: 5 },
        chunk_delay_ms: 5,
      });
      const { model } = await runtime.chat(MINI, ctx);
      const deltas: string[] = [];
      for await (const chunk of await model.stream([new HumanMessage('Tell a story')]))
        if (chunk.content) deltas.push(text(chunk.content));
      expect(deltas).toEqual(chunks);
      const req = openai.lastRequest()!;
      expect(req.stream).toBe(true);
      expect(req.body.stream_options).toEqual({ include_usage: true });
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        prompt_tokens: 12,
        completion_tokens: 5,
        total_tokens: 17,
        status: 'success',
      });
      expect(Number(rows[0].price)).toBeCloseTo((12 * 0.15 + 5 * 0.6) / 1e6, 10);
    });

    it('parses a tool call of a model with bound tools', async () => {
      const ctx = await ctxFor();
      openai.enqueue({ type: 'tool_call', name: 'get_weather', arguments: { city: 'Paris' } });
      const { model } = await runtime.chat(MINI, ctx);
      const res = (await model.bindTools!([weatherTool]).invoke([
        new HumanMessage('Weather in Paris?'),
      ])) as AIMessage;
      expect(res.tool_calls).toEqual([
        { name: 'get_weather', args: { city: 'Paris' }, id: expect.any(String), type: 'tool_call' },
      ]);
      expect(openai.lastRequest()?.body.tools).toEqual([weatherTool]);
      // Streamed tool calls are assembled the same way.
      openai.enqueue({ type: 'tool_call', name: 'get_weather', arguments: { city: 'Rome' } });
      let acc: AIMessageChunk | undefined;
      for await (const chunk of await model.bindTools!([weatherTool]).stream([
        new HumanMessage('Weather in Rome?'),
      ]))
        acc = acc ? acc.concat(chunk) : chunk;
      expect(acc?.tool_calls?.[0]).toMatchObject({ name: 'get_weather', args: { city: 'Rome' } });
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 2);
      expect(rows.map((r) => r.status)).toEqual(['success', 'success']);
    });

    it('retries a 429 after its Retry-After, with one usage row', async () => {
      const ctx = await ctxFor({ timeoutMs: 10_000 }); // the wait counts towards the call's limit
      openai.enqueue([
        { type: 'error', status: 429, retry_after: 1 },
        { type: 'text', text: 'after the wait' },
      ]);
      const { model } = await runtime.chat(MINI, ctx);
      const started = Date.now();
      const res = await model.invoke([new HumanMessage('hi')]);
      const elapsed = Date.now() - started;
      expect(res.content).toBe('after the wait');
      expect(elapsed).toBeGreaterThanOrEqual(950);
      expect(elapsed).toBeLessThan(2500);
      expect(openai.requestsTo('chat')).toHaveLength(2);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0].status).toBe('success');
    });

    it('honours retry-after-ms', async () => {
      const ctx = await ctxFor();
      openai.enqueue([
        { type: 'error', status: 429, headers: { 'retry-after-ms': '50' } },
        { type: 'text', text: 'ok' },
      ]);
      const { model } = await runtime.chat(MINI, ctx);
      const started = Date.now();
      expect((await model.invoke([new HumanMessage('hi')])).content).toBe('ok');
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(Date.now() - started).toBeLessThan(450); // not the 500 ms default backoff
    });

    it('retries a 500 with backoff', async () => {
      const ctx = await ctxFor({ timeoutMs: 10_000 });
      openai.enqueue([
        { type: 'error', status: 500 },
        { type: 'text', text: 'recovered' },
      ]);
      const { model } = await runtime.chat(MINI, ctx);
      const started = Date.now();
      expect((await model.invoke([new HumanMessage('hi')])).content).toBe('recovered');
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      expect(openai.requestsTo('chat')).toHaveLength(2);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows.map((r) => r.status)).toEqual(['success']);
    });

    it('does not retry other client errors', async () => {
      const ctx = await ctxFor();
      openai.enqueue({ type: 'error', status: 400, message: 'bad request body' });
      const { model } = await runtime.chat(MINI, ctx);
      const err = await catchError(() => model.invoke([new HumanMessage('hi')]));
      expect(err.message).toMatch(/bad request body/);
      expect(openai.requestsTo('chat')).toHaveLength(1);
    });

    it('gives up after MODEL_MAX_RETRIES and records an error row', async () => {
      const ctx = await ctxFor();
      openai.enqueue([
        { type: 'error', status: 429, retry_after: 0 },
        { type: 'error', status: 429, retry_after: 0, message: 'Rate limit reached (second)' },
      ]);
      const { model } = await runtime.chat(MINI, ctx);
      const err = await catchError(() => model.invoke([new HumanMessage('hi')]));
      expect(err.message).toMatch(/Rate limit reached \(second\)/);
      expect(openai.requestsTo('chat')).toHaveLength(2); // MODEL_MAX_RETRIES=1
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        status: 'error',
        prompt_tokens: 0,
        completion_tokens: 0,
        price: '0.00000000',
      });
      expect(rows[0].error).toMatch(/Rate limit/);
    });

    it('does not retry a 429 with maxRetries 0', async () => {
      const ctx = await ctxFor({ maxRetries: 0 });
      openai.enqueue({ type: 'error', status: 429, retry_after: 0 });
      const { model } = await runtime.chat(MINI, ctx);
      const err = await catchError(() => model.invoke([new HumanMessage('hi')]));
      expect(err.message).toMatch(/Rate limit/);
      expect(openai.requestsTo('chat')).toHaveLength(1);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows.map((r) => r.status)).toEqual(['error']);
    });

    it('does not wait for a Retry-After longer than the limit', async () => {
      const ctx = await ctxFor();
      openai.enqueue({ type: 'error', status: 429, retry_after: 3600 });
      const { model } = await runtime.chat(MINI, ctx);
      const started = Date.now();
      await expect(model.invoke([new HumanMessage('hi')])).rejects.toThrow(/Rate limit/);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(openai.requestsTo('chat')).toHaveLength(1);
    });

    it('times out a call after ctx.timeoutMs', async () => {
      const ctx = await ctxFor({ timeoutMs: 300 });
      openai.enqueue({ type: 'delay_headers', ms: 5000 });
      const { model } = await runtime.chat(MINI, ctx);
      const started = Date.now();
      const err = await catchError(() => model.invoke([new HumanMessage('hi')]));
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(1500);
      expect(err.message).toMatch(/timed out/i);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0].status).toBe('error'); // a timeout is not the caller's abort
    });

    it('times out a stream after MODEL_TIMEOUT_MS', async () => {
      const ctx = await ctxFor();
      // Headers at once, then the first token after longer than the 2 s limit.
      openai.enqueue({ type: 'delay_first_token', ms: 5000, then: { type: 'text', text: 'late' } });
      const { model } = await runtime.chat(MINI, ctx);
      const started = Date.now();
      const err = await catchError(async () => {
        for await (const _chunk of await model.stream([new HumanMessage('hi')])) void _chunk;
      });
      const elapsed = Date.now() - started;
      expect(err.message).toMatch(/timed out after 2000 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(3500);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'error', prompt_tokens: 0 });
      expect(rows[0].error).toMatch(/timed out after 2000 ms/);
    });

    it('stops a stream aborted with {signal}', async () => {
      const ctx = await ctxFor();
      openai.enqueue({
        type: 'text',
        chunks: Array.from({ length: 40 }, (_, i) => `w${i} `),
        chunk_delay_ms: 50,
      });
      const { model } = await runtime.chat(MINI, ctx);
      const controller = new AbortController();
      const received: string[] = [];
      const started = Date.now();
      const err = await catchError(async () => {
        for await (const chunk of await model.stream([new HumanMessage('hi')], {
          signal: controller.signal,
        })) {
          if (chunk.content) received.push(text(chunk.content));
          if (received.length === 2) controller.abort();
        }
      });
      expect(err.message).toMatch(/abort/i);
      expect(Date.now() - started).toBeLessThan(1200); // not the 2 s the whole answer takes
      expect(received.length).toBeGreaterThanOrEqual(2);
      expect(received.length).toBeLessThan(6);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'aborted', completion_tokens: 0 });
      // The fake saw the client go away: it did not send the remaining chunks.
      expect(openai.requestsTo('chat')).toHaveLength(1);
    });

    it('fails a stream whose connection drops midway', async () => {
      const ctx = await ctxFor();
      openai.enqueue({ type: 'disconnect_mid_stream', after_chunks: 2 });
      const { model } = await runtime.chat(MINI, ctx);
      const received: string[] = [];
      const err = await catchError(async () => {
        for await (const chunk of await model.stream([new HumanMessage('hi')]))
          if (chunk.content) received.push(text(chunk.content));
      });
      expect(err.message).toMatch(/terminated|socket|closed/i);
      expect(received.join('')).toBe('This a'); // the two chunks sent before the drop
      expect(openai.requestsTo('chat')).toHaveLength(1); // a started stream is not replayed
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows.map((r) => r.status)).toEqual(['error']);
    });

    it('fails a stream that reports an in-band error', async () => {
      const ctx = await ctxFor();
      openai.enqueue({ type: 'stream_error', after_chunks: 1, message: 'model overloaded' });
      const { model } = await runtime.chat(MINI, ctx);
      const err = await catchError(async () => {
        for await (const _chunk of await model.stream([new HumanMessage('hi')])) void _chunk;
      });
      expect(err.message).toMatch(/model overloaded/);
    });
  });

  describe('parameters', () => {
    it('refuses invalid parameters with a field map', async () => {
      const ctx = await ctxFor();
      const err = await catchError(() =>
        runtime.chat(
          { ...MINI, parameters: { temperature: 3, max_tokens: 1.5, top_k: 5, top_p: 'x' } },
          ctx,
        ),
      );
      expect(err).toBeInstanceOf(ValidateError);
      const data = (err as ValidateError).data as Record<string, string[]>;
      expect(data).toEqual({
        'parameters.temperature': ['temperature must be at most 2'],
        'parameters.max_tokens': ['max_tokens must be an integer'],
        'parameters.top_k': ['top_k is not a parameter of openai/gpt-4o-mini'],
        'parameters.top_p': ['top_p must be a number'],
      });
      expect(err.message).toBe(Object.values(data)[0][0]);
      // Anthropic's temperature stops at 1; its max_tokens stops at the model's output limit.
      const claude = await catchError(() =>
        runtime.chat({ ...HAIKU, parameters: { temperature: 1.5, max_tokens: 9000 } }, ctx),
      );
      expect((claude as ValidateError).data).toEqual({
        'parameters.temperature': ['temperature must be at most 1'],
        'parameters.max_tokens': ['max_tokens must be at most 8192'],
      });
      expect(openai.requests).toHaveLength(0);
      expect(await usageRows(t, ctx.accountId!)).toEqual([]);
    });

    it('replaces invalid parameters by defaults in lenient mode', async () => {
      const ctx = await ctxFor({ parameterMode: 'lenient' });
      const chat = await runtime.chat(
        { ...MINI, parameters: { temperature: 3, top_p: 0.5, top_k: 5, max_tokens: 'many' } },
        ctx,
      );
      expect(chat.parameters).toEqual({
        temperature: 1,
        top_p: 0.5,
        presence_penalty: 0,
        frequency_penalty: 0,
        max_tokens: 4096,
      });
      await chat.model.invoke([new HumanMessage('hi')]);
      expect(openai.lastRequest()?.body).toMatchObject({
        temperature: 1,
        top_p: 0.5,
        max_tokens: 4096,
      });
      expect(openai.lastRequest()?.body.top_k).toBeUndefined();
    });

    it('answers not_found for unknown models and the wrong model type', async () => {
      const ctx = await ctxFor();
      await expect(runtime.chat({ provider: 'openai', model: 'gpt-nope' }, ctx)).rejects.toThrow(
        /gpt-nope/,
      );
      await expect(runtime.chat({ provider: 'nope', model: 'x' }, ctx)).rejects.toThrow(/nope/);
      await expect(
        runtime.chat({ provider: 'openai', model: 'text-embedding-3-small' }, ctx),
      ).rejects.toThrow(/not a chat model/);
      await expect(runtime.embeddings(MINI, ctx)).rejects.toThrow(/not an embedding model/);
    });

    it('fails clearly when a provider is not configured', async () => {
      const ctx = await ctxFor();
      const err = await catchError(() =>
        runtime.chat({ provider: 'moonshot', model: 'moonshot-v1-8k' }, ctx),
      );
      expect(err).toBeInstanceOf(FailException);
      expect(err.message).toMatch(/Moonshot.* is not configured/);
      expect(err.message).toMatch(/MOONSHOT_API_KEY/);
      const compatible = await catchError(() =>
        runtime.chat({ provider: 'openai_compatible', model: 'anything' }, ctx),
      );
      expect(compatible).toBeInstanceOf(FailException);
      expect(compatible.message).toMatch(/OPENAI_COMPATIBLE_API_BASE/);
    });
  });

  describe('Anthropic', () => {
    it('invokes with the server key and records usage', async () => {
      const ctx = await ctxFor();
      anthropic.enqueue({
        type: 'text',
        text: 'Bonjour!',
        usage: { prompt_tokens: 2000, completion_tokens: 100 },
      });
      const { model } = await runtime.chat({ ...HAIKU, parameters: { temperature: 0.5 } }, ctx);
      const res = await model.invoke([new HumanMessage('Say hello in French')]);
      expect(text(res.content)).toMatch(/Bonjour!/);
      const req = anthropic.lastRequest()!;
      expect(req.headers['x-api-key']).toBe('sk-ant-test');
      expect(req.body).toMatchObject({
        model: 'claude-3-5-haiku-latest',
        max_tokens: 4096,
        temperature: 0.5,
      });
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        provider: 'anthropic',
        model: 'claude-3-5-haiku-latest',
        prompt_tokens: 2000,
        completion_tokens: 100,
        status: 'success',
        currency: 'USD',
      });
      expect(Number(rows[0].price)).toBeCloseTo((2000 * 0.8 + 100 * 4) / 1e6, 10);
    });

    it('streams deltas and records usage', async () => {
      const ctx = await ctxFor();
      const chunks = ['Hel', 'lo ', 'there'];
      anthropic.enqueue({
        type: 'text',
        chunks,
        usage: { prompt_tokens: 7, completion_tokens: 3 },
      });
      const { model } = await runtime.chat(HAIKU, ctx);
      const deltas: string[] = [];
      for await (const chunk of await model.stream([new HumanMessage('hi')])) {
        const piece = typeof chunk.content === 'string' ? chunk.content : '';
        if (piece) deltas.push(piece);
      }
      expect(deltas.join('')).toBe('Hello there');
      expect(anthropic.lastRequest()?.stream).toBe(true);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ prompt_tokens: 7, status: 'success' });
      // message_start reports 1 output token and message_delta the total; LangChain adds both.
      expect([3, 4]).toContain(rows[0].completion_tokens);
    });

    it('retries an overloaded 529 and surfaces a 401', async () => {
      const ctx = await ctxFor();
      anthropic.enqueue([
        { type: 'error', status: 529, retry_after: 0 },
        { type: 'text', text: 'fine now' },
      ]);
      const { model } = await runtime.chat(HAIKU, ctx);
      expect(text((await model.invoke([new HumanMessage('hi')])).content)).toMatch(/fine now/);
      expect(anthropic.requestsTo('chat')).toHaveLength(2);
      anthropic.enqueue({ type: 'error', status: 401 });
      await expect(model.invoke([new HumanMessage('hi')])).rejects.toThrow(/x-api-key/);
      expect(anthropic.requestsTo('chat')).toHaveLength(3);
    });
  });

  describe('Ollama', () => {
    it('invokes and streams without an API key', async () => {
      const ctx = await ctxFor();
      ollama.enqueue({
        type: 'text',
        text: 'Local answer',
        usage: { prompt_tokens: 9, completion_tokens: 2 },
      });
      const { model } = await runtime.chat({ ...QWEN, parameters: { max_tokens: 64 } }, ctx);
      expect(text((await model.invoke([new HumanMessage('hi')])).content)).toBe('Local answer');
      const req = ollama.lastRequest()!;
      expect(req.path).toBe('/api/chat');
      expect(req.headers.authorization).toBeUndefined();
      expect(req.body).toMatchObject({ model: 'qwen2.5:7b', options: { num_predict: 64 } });

      ollama.enqueue({ type: 'text', chunks: ['a', 'b', 'c'] });
      const deltas: string[] = [];
      for await (const chunk of await model.stream([new HumanMessage('abc')]))
        if (chunk.content) deltas.push(text(chunk.content));
      expect(deltas).toEqual(['a', 'b', 'c']);

      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 2);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({
        provider: 'ollama',
        model: 'qwen2.5:7b',
        prompt_tokens: 9,
        completion_tokens: 2,
        price: '0.00000000',
        status: 'success',
      });
    });

    it('accepts a custom tag', async () => {
      const ctx = await ctxFor();
      const { model, catalog } = await runtime.chat(
        { provider: 'ollama', model: 'mistral:7b' },
        ctx,
      );
      expect(catalog.dynamic).toBe(true);
      expect(text((await model.invoke([new HumanMessage('ping')])).content)).toBe('Echo: ping');
      expect(ollama.lastRequest()?.body.model).toBe('mistral:7b');
    });

    it('throws an in-band {"error"} line of a stream', async () => {
      const ctx = await ctxFor();
      ollama.enqueue({ type: 'stream_error', after_chunks: 2, message: 'model runner crashed' });
      const { model } = await runtime.chat(QWEN, ctx);
      const err = await catchError(async () => {
        for await (const _chunk of await model.stream([new HumanMessage('hi')])) void _chunk;
      });
      expect(err.message).toMatch(/model runner crashed/);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows.map((r) => r.status)).toEqual(['error']);
    });
  });

  describe('embeddings', () => {
    it('batches, keeps the order, reports progress and records estimated usage', async () => {
      const ctx = await ctxFor();
      const texts = Array.from({ length: 10 }, (_, i) => `document number ${i} about topic ${i}`);
      // The first batch answers last: order must still follow the input.
      openai.enqueue(
        { type: 'delay_first_token', ms: 200 },
        { endpoint: 'embeddings', when: (r) => r.body?.input?.[0] === texts[0] },
      );
      const progress: Array<[number, number]> = [];
      const vectors = await t.app
        .get(EmbeddingService)
        .embedDocuments({ provider: 'openai', model: 'text-embedding-3-small' }, texts, {
          ...ctx,
          onProgress: (done, total) => progress.push([done, total]),
        });
      const requests = openai.requestsTo('embeddings');
      expect(requests).toHaveLength(4);
      expect(requests.map((r) => r.body.input.length).sort()).toEqual([1, 3, 3, 3]);
      expect(requests.every((r) => r.body.model === 'text-embedding-3-small')).toBe(true);
      expect(vectors).toHaveLength(10);
      expect(vectors).toEqual(texts.map((s) => fakeEmbedding(s, 8)));
      expect(progress).toHaveLength(4);
      expect(progress.map(([, total]) => total)).toEqual([10, 10, 10, 10]);
      expect(progress.at(-1)).toEqual([10, 10]);
      const dones = progress.map(([done]) => done);
      expect([...dones].sort((x, y) => x - y)).toEqual(dones);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 4);
      expect(rows).toHaveLength(4);
      for (const r of rows) {
        expect(r).toMatchObject({
          provider: 'openai',
          model: 'text-embedding-3-small',
          model_type: 'embedding',
          estimated: true,
          completion_tokens: 0,
          status: 'success',
        });
        expect(r.prompt_tokens).toBeGreaterThan(0);
      }
      const total = rows.reduce((n, r) => n + r.prompt_tokens, 0);
      expect(total).toBe(texts.reduce((n, s) => n + Math.ceil(s.length / 4), 0));
    });

    it('honours a batch size per call and embeds a query', async () => {
      const ctx = await ctxFor();
      const service = t.app.get(EmbeddingService);
      const ref = { provider: 'openai', model: 'text-embedding-3-small' };
      const vectors = await service.embedDocuments(ref, ['a b', 'c d', 'e f'], {
        ...ctx,
        batchSize: 2,
      });
      expect(openai.requestsTo('embeddings')).toHaveLength(2);
      expect(vectors).toEqual(['a b', 'c d', 'e f'].map((s) => fakeEmbedding(s, 8)));
      expect(await service.embedQuery(ref, 'what is c', ctx)).toEqual(
        fakeEmbedding('what is c', 8),
      );
      expect(await service.embedDocuments(ref, [], ctx)).toEqual([]);
    });

    it('records an error row when a batch fails', async () => {
      const ctx = await ctxFor({ maxRetries: 0 });
      openai.enqueue(
        { type: 'error', status: 500, message: 'embedding backend down' },
        {
          endpoint: 'embeddings',
        },
      );
      await expect(
        t.app
          .get(EmbeddingService)
          .embedDocuments({ provider: 'openai', model: 'text-embedding-3-small' }, ['x'], ctx),
      ).rejects.toThrow(/embedding backend down/);
      const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
      expect(rows.map((r) => r.status)).toEqual(['error']);
    });

    it('embeds through Ollama', async () => {
      const ctx = await ctxFor();
      const vectors = await t.app
        .get(EmbeddingService)
        .embedDocuments({ provider: 'ollama', model: 'nomic-embed-text' }, ['one', 'two'], ctx);
      expect(vectors).toEqual(['one', 'two'].map((s) => fakeEmbedding(s, 8)));
      expect(ollama.requestsTo('embeddings')).toHaveLength(1);
    });
  });

  describe('OpenAI-compatible servers', () => {
    it("calls an account's own base_url (allow-listed) with a custom model name", async () => {
      const ctx = await ctxFor();
      const own = await FakeOpenAI.create({ requireKey: 'sk-own-server' });
      try {
        await t.app.get(CredentialsService).set(ctx.accountId!, 'openai_compatible', {
          base_url: own.baseURL,
          api_key: 'sk-own-server',
        });
        own.enqueue({
          type: 'text',
          text: 'from my vLLM',
          usage: { prompt_tokens: 3, completion_tokens: 3 },
        });
        const chat = await runtime.chat(
          { provider: 'openai_compatible', model: 'Qwen/Qwen2.5-0.5B-Instruct' },
          ctx,
        );
        expect(chat.catalog).toMatchObject({ dynamic: true, model_type: 'chat' });
        expect((await chat.model.invoke([new HumanMessage('hi')])).content).toBe('from my vLLM');
        expect(own.lastRequest()?.body.model).toBe('Qwen/Qwen2.5-0.5B-Instruct');
        expect(openai.requests).toHaveLength(0);
        const rows = await usageRows(t, ctx.accountId!, (r) => r.length >= 1);
        expect(rows[0]).toMatchObject({
          provider: 'openai_compatible',
          model: 'Qwen/Qwen2.5-0.5B-Instruct',
          prompt_tokens: 3,
          price: '0.00000000',
          status: 'success',
        });
      } finally {
        await own.close();
      }
    });

    it('calls a registered dynamic model without credentials', async () => {
      const ctx = await ctxFor();
      const catalog = t.app.get(ModelCatalog);
      const name = `deploy-${randomBytes(4).toString('hex')}`;
      await expect(
        runtime.chat({ provider: 'openai_compatible', model: name }, ctx),
      ).rejects.toThrow(/not configured/);
      catalog.registerDynamic({
        model_name: name,
        base_url: openai.baseURL,
        max_output_tokens: 1024,
      });
      try {
        const chat = await runtime.chat(
          { provider: 'openai_compatible', model: name, parameters: { max_tokens: 100 } },
          ctx,
        );
        expect(chat.catalog).toMatchObject({ dynamic: true, base_url: openai.baseURL });
        expect((await chat.model.invoke([new HumanMessage('ping')])).content).toBe('Echo: ping');
        expect(openai.lastRequest()?.body).toMatchObject({ model: name, max_tokens: 100 });
        // Its parameter limits come from the registration.
        await expect(
          runtime.chat(
            { provider: 'openai_compatible', model: name, parameters: { max_tokens: 2000 } },
            ctx,
          ),
        ).rejects.toThrow(/at most 1024/);
        // It shows in the catalog listing while registered.
        const listed = catalog.list().find((p) => p.name === 'openai_compatible')!;
        expect(listed.models.map((m) => m.model_name)).toContain(name);
      } finally {
        catalog.unregisterDynamic(name);
      }
      expect(
        catalog
          .list()
          .find((p) => p.name === 'openai_compatible')!
          .models.map((m) => m.model_name),
      ).not.toContain(name);
    });
  });
});
