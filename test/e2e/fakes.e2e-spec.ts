import { ChatAnthropic } from '@langchain/anthropic';
import type { AIMessageChunk } from '@langchain/core/messages';
import { ChatOllama, OllamaEmbeddings } from '@langchain/ollama';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { FakeAnthropic } from '@test/fakes/fake-anthropic';
import { cosine, fakeEmbedding } from '@test/fakes/fake-llm-common';
import { FakeOllama } from '@test/fakes/fake-ollama';
import { FakeOpenAI } from '@test/fakes/fake-openai';
import OpenAI from 'openai';

/**
 * Proves the fake providers against the REAL client libraries: if these pass, code under test
 * that uses the same clients sees the same wire protocol it would see from the real services.
 */

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['C', 'F'] } },
      required: ['city'],
    },
  },
};

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function concatChunks(stream: AsyncIterable<AIMessageChunk>): Promise<AIMessageChunk> {
  let acc: AIMessageChunk | undefined;
  for await (const chunk of stream) acc = acc ? acc.concat(chunk) : chunk;
  if (!acc) throw new Error('empty stream');
  return acc;
}

describe('FakeOpenAI', () => {
  const fake = new FakeOpenAI();
  let client: OpenAI;

  beforeAll(async () => {
    await fake.start();
    client = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-test', maxRetries: 0 });
  });
  afterAll(() => fake.close());
  afterEach(() => {
    expect(fake.pending).toBe(0); // every scripted behaviour was used
    fake.reset();
  });

  describe('openai SDK', () => {
    it('answers a non-streamed chat with the default echo and word-count usage', async () => {
      const res = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hello fake world' },
        ],
      });
      expect(res.object).toBe('chat.completion');
      expect(res.model).toBe('gpt-4o-mini');
      expect(res.choices[0].message).toMatchObject({
        role: 'assistant',
        content: 'Echo: hello fake world',
      });
      expect(res.choices[0].finish_reason).toBe('stop');
      expect(res.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
      expect(res._request_id).toMatch(/^req_/);
      const [req] = fake.requestsTo('chat');
      expect(req.headers.authorization).toBe('Bearer sk-test');
      expect(req.path).toBe('/v1/chat/completions');
      expect(req.body.messages).toHaveLength(2);
    });

    it('streams scripted chunks with a role chunk, finish chunk and include_usage chunk', async () => {
      fake.enqueue({
        type: 'text',
        chunks: ['Hel', 'lo ', 'there'],
        usage: { prompt_tokens: 7, completion_tokens: 2 },
      });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = await collect(stream);
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe('Hello there');
      expect(
        chunks.filter((c) => c.choices[0]?.delta.content).map((c) => c.choices[0].delta.content),
      ).toEqual(['Hel', 'lo ', 'there']);
      const finish = chunks.find((c) => c.choices[0]?.finish_reason);
      expect(finish?.choices[0].finish_reason).toBe('stop');
      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });
    });

    it('returns tool calls, whole and as streamed argument deltas', async () => {
      const args = { city: 'Paris', unit: 'C' };
      fake.enqueue([
        { type: 'tool_call', name: 'get_weather', arguments: args, id: 'call_abc' },
        { type: 'tool_call', name: 'get_weather', arguments: args },
      ]);
      const whole = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [weatherTool],
      });
      expect(whole.choices[0].finish_reason).toBe('tool_calls');
      expect(whole.choices[0].message.content).toBeNull();
      const call = whole.choices[0].message.tool_calls![0];
      expect(call).toMatchObject({
        id: 'call_abc',
        type: 'function',
        function: { name: 'get_weather' },
      });
      expect(JSON.parse((call as any).function.arguments)).toEqual(args);

      const chunks = await collect(
        await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'weather?' }],
          tools: [weatherTool],
          stream: true,
        }),
      );
      const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      expect(deltas.length).toBeGreaterThan(2); // arguments arrive piecewise
      expect(deltas[0]).toMatchObject({
        index: 0,
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      });
      expect(deltas[0].id).toMatch(/^call_/);
      expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? '').join(''))).toEqual(args);
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
    });

    it('serves embeddings in the default base64 encoding and as floats, deterministically', async () => {
      const res = await client.embeddings.create({
        model: 'text-embedding-3-small',
        input: ['the cat sat', 'the cat sat', 'quantum chromodynamics'],
      });
      expect(fake.lastRequest('embeddings')!.body.encoding_format).toBe('base64');
      const [a, b, c] = res.data.map((d) => d.embedding);
      expect(a).toHaveLength(8);
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
      expect(Math.hypot(...a)).toBeCloseTo(1, 5);
      expect(res.usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });

      const floats = await client.embeddings.create({
        model: 'text-embedding-3-small',
        input: 'the cat sat',
        encoding_format: 'float',
        dimensions: 16,
      });
      expect(floats.data[0].embedding).toHaveLength(16);
      expect(floats.data[0].embedding).toEqual(fakeEmbedding('the cat sat', 16));
      expect(a).toEqual(fakeEmbedding('the cat sat', 8)); // base64 float32 decodes to the same numbers
    });

    it('retries a 429 after the retry-after delay when the SDK may retry', async () => {
      fake.enqueue({ type: 'error', status: 429, retry_after: 1 });
      const retrying = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-test', maxRetries: 1 });
      const started = Date.now();
      const res = await retrying.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'again' }],
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(res.choices[0].message.content).toBe('Echo: again');
      expect(fake.requestsTo('chat')).toHaveLength(2);
      expect(fake.requestsTo('chat')[1].headers['x-stainless-retry-count']).toBe('1');
    });

    it('speaks the OpenAI error format (429 without retries, 401 with requireKey, 404 model)', async () => {
      fake.enqueue({ type: 'error', status: 429 });
      const rateLimited = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(rateLimited).toBeInstanceOf(OpenAI.RateLimitError);
      expect(rateLimited).toMatchObject({
        status: 429,
        code: 'rate_limit_exceeded',
        type: 'requests',
      });

      fake.requireKey = 'sk-right';
      try {
        const unauthorized = await client.models.list().catch((e: unknown) => e);
        expect(unauthorized).toBeInstanceOf(OpenAI.AuthenticationError);
        expect(unauthorized).toMatchObject({ status: 401, code: 'invalid_api_key' });
        const ok = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-right', maxRetries: 0 });
        const models = await ok.models.list();
        expect(models.data.map((m) => m.id)).toContain('gpt-4o-mini');
      } finally {
        fake.requireKey = undefined;
      }

      fake.strictModels = true;
      try {
        const missing = await client.chat.completions
          .create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'x' }] })
          .catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
        expect(missing).toMatchObject({ code: 'model_not_found' });
      } finally {
        fake.strictModels = false;
      }
    });

    it('surfaces a mid-stream disconnect and an in-band stream error as thrown errors', async () => {
      fake.enqueue({ type: 'disconnect_mid_stream', after_chunks: 2 });
      const received: string[] = [];
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      const err = await (async () => {
        for await (const c of stream) received.push(c.choices[0]?.delta.content ?? '');
      })().catch((e: unknown) => e);
      // undici's fetch reports the truncated chunked body as `TypeError: terminated` (from another realm).
      expect(err).toMatchObject({ name: 'TypeError', message: 'terminated' });
      expect(received.join('')).toBe('This a'); // role chunk + two 3-character chunks

      fake.enqueue({ type: 'stream_error', after_chunks: 1, message: 'The server had an error' });
      const failing = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      const apiErr = await collect(failing).catch((e: unknown) => e);
      expect(apiErr).toBeInstanceOf(OpenAI.APIError);
      expect((apiErr as Error).message).toContain('The server had an error');

      // Without streaming: a half-sent body, or a connection dropped before any answer.
      fake.enqueue([{ type: 'disconnect_mid_stream', after_chunks: 0 }, { type: 'disconnect' }]);
      const create = () =>
        client.chat.completions
          .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
          .catch((e: unknown) => e);
      expect(await create()).toMatchObject({ message: 'terminated' });
      expect(await create()).toBeInstanceOf(OpenAI.APIConnectionError);
    });

    it('delays the first token after sending headers (delay_first_token) or everything (delay_headers)', async () => {
      fake.enqueue({
        type: 'delay_first_token',
        ms: 300,
        then: { type: 'text', text: 'slow start' },
      });
      const started = Date.now();
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      const headersAt = Date.now() - started;
      let firstAt = 0;
      let text = '';
      for await (const c of stream) {
        firstAt ||= Date.now() - started;
        text += c.choices[0]?.delta.content ?? '';
      }
      expect(headersAt).toBeLessThan(200);
      expect(firstAt).toBeGreaterThanOrEqual(290);
      expect(text).toBe('slow start');

      fake.enqueue({ type: 'delay_headers', ms: 200 });
      const t0 = Date.now();
      const res = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'late' }],
      });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
      expect(res.choices[0].message.content).toBe('Echo: late');
    });

    it('routes queued behaviours by endpoint and model; the fallback hook replaces the echo', async () => {
      fake.enqueue({ type: 'text', text: 'for mini only' }, { model: 'gpt-4o-mini' });
      fake.enqueue({ type: 'embeddings', vectors: [[1, 0, 0]] }, { endpoint: 'embeddings' });
      const other = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'a' }],
      });
      expect(other.choices[0].message.content).toBe('Echo: a');
      const mini = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'a' }],
      });
      expect(mini.choices[0].message.content).toBe('for mini only');
      const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
      expect(emb.data[0].embedding).toEqual([1, 0, 0]);

      fake.fallback = () => ({ type: 'text', text: 'fallback answer' });
      try {
        const res = await client.chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'a' }],
        });
        expect(res.choices[0].message.content).toBe('fallback answer');
      } finally {
        fake.fallback = undefined;
      }
    });
  });

  describe('LangChain ChatOpenAI / OpenAIEmbeddings', () => {
    const chat = () =>
      new ChatOpenAI({
        model: 'gpt-4o-mini',
        apiKey: 'test',
        maxRetries: 0,
        configuration: { baseURL: fake.baseURL },
      });

    it('invokes with usage_metadata', async () => {
      const msg = await chat().invoke('hello langchain');
      expect(msg.content).toBe('Echo: hello langchain');
      expect(msg.usage_metadata).toMatchObject({
        input_tokens: 2,
        output_tokens: 3,
        total_tokens: 5,
      });
      expect(msg.response_metadata.finish_reason).toBe('stop');
    });

    it('streams chunks and usage (stream_options.include_usage)', async () => {
      fake.enqueue({ type: 'text', text: 'streamed answer here' });
      const msg = await concatChunks(await chat().stream('go'));
      expect(msg.content).toBe('streamed answer here');
      expect(msg.usage_metadata).toMatchObject({
        input_tokens: 1,
        output_tokens: 3,
        total_tokens: 4,
      });
      expect(fake.lastRequest()!.body).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
      });
    });

    it('parses tool calls from bindTools, invoked and streamed', async () => {
      const args = { city: 'Oslo' };
      fake.enqueue([
        { type: 'tool_call', name: 'get_weather', arguments: args },
        { type: 'tool_call', name: 'get_weather', arguments: args, id: 'call_streamed' },
      ]);
      const model = chat().bindTools([weatherTool]);
      const msg = await model.invoke('weather in Oslo?');
      expect(msg.tool_calls).toEqual([
        expect.objectContaining({ name: 'get_weather', args, type: 'tool_call' }),
      ]);
      expect(fake.lastRequest()!.body.tools[0].function.name).toBe('get_weather');

      const streamed = await concatChunks(await model.stream('weather in Oslo?'));
      expect(streamed.tool_calls).toEqual([
        expect.objectContaining({ name: 'get_weather', args, id: 'call_streamed' }),
      ]);
    });

    it('embeds with OpenAIEmbeddings (base64 decoded by the SDK)', async () => {
      const embeddings = new OpenAIEmbeddings({
        model: 'text-embedding-3-small',
        apiKey: 'test',
        maxRetries: 0,
        configuration: { baseURL: fake.baseURL },
      });
      const [doc] = await embeddings.embedDocuments(['cats purr softly']);
      const query = await embeddings.embedQuery('cats purr softly');
      expect(doc).toEqual(fakeEmbedding('cats purr softly', 8));
      expect(query).toEqual(doc);
      expect(cosine(doc, await embeddings.embedQuery('cats purr'))).toBeGreaterThan(
        cosine(doc, await embeddings.embedQuery('stock market crash')),
      );
    });
  });
});

describe('FakeAnthropic with LangChain ChatAnthropic', () => {
  const fake = new FakeAnthropic();
  const chat = () =>
    new ChatAnthropic({
      model: 'claude-sonnet-4-5-20250929',
      apiKey: 'sk-ant-test',
      anthropicApiUrl: fake.url,
      maxTokens: 256,
      maxRetries: 0,
    });

  beforeAll(() => fake.start());
  afterAll(() => fake.close());
  afterEach(() => {
    expect(fake.pending).toBe(0);
    fake.reset();
  });

  it('invokes with usage, sending x-api-key and anthropic-version', async () => {
    const msg = await chat().invoke([
      ['system', 'You are terse.'],
      ['human', 'hello claude'],
    ]);
    expect(msg.content).toBe('Echo: hello claude');
    expect(msg.usage_metadata).toMatchObject({
      input_tokens: 5,
      output_tokens: 3,
      total_tokens: 8,
    });
    expect(msg.response_metadata).toMatchObject({ stop_reason: 'end_turn' });
    const req = fake.lastRequest()!;
    expect(req.path).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe('sk-ant-test');
    expect(req.headers['anthropic-version']).toBeTruthy();
    expect(req.body).toMatchObject({ max_tokens: 256, system: 'You are terse.' });
  });

  it('streams the named SSE events into chunks and usage', async () => {
    fake.enqueue({
      type: 'text',
      chunks: ['Bon', 'jour', '!'],
      usage: { prompt_tokens: 4, completion_tokens: 2 },
    });
    const msg = await concatChunks(await chat().stream('hi'));
    expect(msg.content).toBe('Bonjour!');
    // message_start reports output_tokens 1 like the real API and LangChain adds message_delta's count.
    expect(msg.usage_metadata).toMatchObject({ input_tokens: 4, output_tokens: 3 });
    expect(fake.lastRequest()!.body.stream).toBe(true);
  });

  it('parses tool_use blocks, invoked and streamed (input_json_delta)', async () => {
    const args = { city: 'Rome', unit: 'C' };
    fake.enqueue([
      { type: 'tool_call', name: 'get_weather', arguments: args, text: 'Let me check.' },
      { type: 'tool_call', name: 'get_weather', arguments: args, id: 'toolu_streamed' },
    ]);
    const model = chat().bindTools([weatherTool]);
    const msg = await model.invoke('weather in Rome?');
    expect(msg.tool_calls).toEqual([expect.objectContaining({ name: 'get_weather', args })]);
    expect(msg.tool_calls![0].id).toMatch(/^toolu_/);
    expect(msg.response_metadata).toMatchObject({ stop_reason: 'tool_use' });
    expect(fake.lastRequest()!.body.tools[0]).toMatchObject({
      name: 'get_weather',
      input_schema: { type: 'object' },
    });

    const streamed = await concatChunks(await model.stream('weather in Rome?'));
    expect(streamed.tool_calls).toEqual([
      expect.objectContaining({ name: 'get_weather', args, id: 'toolu_streamed' }),
    ]);
  });

  it('surfaces HTTP errors and in-band `event: error` as thrown errors', async () => {
    fake.enqueue({ type: 'error', status: 429, retry_after: 1 });
    const limited = await chat()
      .invoke('x')
      .catch((e: unknown) => e);
    expect(limited).toMatchObject({ status: 429 });
    expect(String((limited as Error).message)).toContain('rate_limit_error');

    fake.enqueue({
      type: 'stream_error',
      after_chunks: 1,
      message: 'Overloaded',
      error_type: 'overloaded_error',
    });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of await chat().stream('x')) seen.push(c.text);
    })().catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain('Overloaded');
    expect(seen.join('')).toBe('Thi');
  });

  it('validates like the Messages API: key, anthropic-version, max_tokens', async () => {
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${fake.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const body = {
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
    };
    fake.requireKey = 'sk-ant-right';
    try {
      const denied = await post({ 'x-api-key': 'wrong', 'anthropic-version': '2023-06-01' }, body);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({
        type: 'error',
        error: { type: 'authentication_error' },
      });
      const noVersion = await post({ 'x-api-key': 'sk-ant-right' }, body);
      expect(noVersion.status).toBe(400);
      const noMax = await post(
        { 'x-api-key': 'sk-ant-right', 'anthropic-version': '2023-06-01' },
        { ...body, max_tokens: undefined },
      );
      expect(await noMax.json()).toMatchObject({
        error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
      });
      const ok = await post(
        { 'x-api-key': 'sk-ant-right', 'anthropic-version': '2023-06-01' },
        body,
      );
      expect(ok.headers.get('request-id')).toMatch(/^req_/);
      expect(await ok.json()).toMatchObject({
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'Echo: x' }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 2 },
      });
    } finally {
      fake.requireKey = undefined;
    }
  });
});

describe('FakeOllama with LangChain ChatOllama / OllamaEmbeddings', () => {
  const fake = new FakeOllama();
  const chat = () => new ChatOllama({ model: 'llama3.2', baseUrl: fake.url, maxRetries: 0 });

  beforeAll(() => fake.start());
  afterAll(() => fake.close());
  afterEach(() => {
    expect(fake.pending).toBe(0);
    fake.reset();
  });

  it('invokes (ChatOllama always streams NDJSON) with usage from the final line', async () => {
    const msg = await chat().invoke('hello llama');
    expect(msg.content).toBe('Echo: hello llama');
    expect(msg.usage_metadata).toMatchObject({
      input_tokens: 2,
      output_tokens: 3,
      total_tokens: 5,
    });
    expect(msg.response_metadata).toMatchObject({ done_reason: 'stop' });
    expect(fake.lastRequest()!.body).toMatchObject({ model: 'llama3.2', stream: true });
  });

  it('streams scripted chunks', async () => {
    fake.enqueue({ type: 'text', chunks: ['one ', 'two ', 'three'] });
    const contents: string[] = [];
    for await (const c of await chat().stream('count')) if (c.text) contents.push(c.text);
    expect(contents).toEqual(['one ', 'two ', 'three']);
  });

  it('parses message.tool_calls', async () => {
    fake.enqueue({ type: 'tool_call', name: 'get_weather', arguments: { city: 'Lima' } });
    const msg = await chat().bindTools([weatherTool]).invoke('weather in Lima?');
    expect(msg.tool_calls).toEqual([
      expect.objectContaining({ name: 'get_weather', args: { city: 'Lima' } }),
    ]);
    expect(fake.lastRequest()!.body.tools[0].function.name).toBe('get_weather');
  });

  it('throws on a mid-stream {"error"} line and on HTTP errors', async () => {
    fake.enqueue({
      type: 'stream_error',
      after_chunks: 2,
      message: 'model runner has unexpectedly stopped',
    });
    await expect(chat().invoke('x')).rejects.toThrow('model runner has unexpectedly stopped');

    fake.enqueue({
      type: 'error',
      status: 404,
      message: 'model "llama3.2" not found, try pulling it first',
    });
    await expect(chat().invoke('x')).rejects.toThrow('not found, try pulling it first');

    fake.enqueue({ type: 'disconnect_mid_stream', after_chunks: 1 });
    await expect(chat().invoke('x')).rejects.toThrow('terminated');
  });

  it('embeds with OllamaEmbeddings via /api/embed', async () => {
    const embeddings = new OllamaEmbeddings({ model: 'nomic-embed-text', baseUrl: fake.url });
    const docs = await embeddings.embedDocuments(['alpha beta', 'gamma']);
    expect(docs).toEqual([fakeEmbedding('alpha beta', 8), fakeEmbedding('gamma', 8)]);
    expect(fake.lastRequest('embeddings')!.path).toBe('/api/embed');
  });

  it('speaks the raw protocol: default streaming, stream:false, tags, version', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${fake.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    const streamed = await post('/api/chat', {
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(streamed.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await streamed.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({
      done: true,
      done_reason: 'stop',
      prompt_eval_count: 1,
      eval_count: 2,
    });
    expect(
      lines.slice(0, -1).every((l) => l.done === false && l.message.role === 'assistant'),
    ).toBe(true);

    const whole = await (
      await post('/api/chat', {
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'hi' }],
        stream: false,
      })
    ).json();
    expect(whole).toMatchObject({
      message: { role: 'assistant', content: 'Echo: hi' },
      done: true,
    });

    const tags = await (await fetch(`${fake.url}/api/tags`)).json();
    expect(tags.models.map((m: { name: string }) => m.name)).toContain('llama3.2:latest');
    expect(await (await fetch(`${fake.url}/api/version`)).json()).toEqual({
      version: fake.version,
    });
  });
});
