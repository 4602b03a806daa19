import { NotFoundError, ValidateError } from '@app/common';
import { AppConfig, parseEnv } from '@app/config';
import { Logger } from '@nestjs/common';
import { ToolRuntime, toFunctionName } from './tool-runtime.service';
import { ToolCallError, type ResolvedTool, type ToolRef, type ToolSource } from './tool.types';

function runtime(env: Record<string, string> = {}): ToolRuntime {
  const config = new AppConfig(
    parseEnv({
      JWT_SECRET: 'x'.repeat(32),
      ENCRYPTION_KEY: 'y'.repeat(32),
      STORAGE_DIR: '/nonexistent',
      ...env,
    }),
  );
  return new ToolRuntime(config);
}

function fakeTool(call: ResolvedTool['call'], extra: Partial<ResolvedTool> = {}): ResolvedTool {
  return {
    kind: 'api_tool',
    provider: 'p1',
    name: 'get weather',
    label: 'Weather',
    description: 'Weather of a city',
    inputSchema: {
      type: 'object',
      properties: { city: { type: 'string', minLength: 1 }, days: { type: 'integer', minimum: 1 } },
      required: ['city'],
      additionalProperties: false,
    },
    call,
    ...extra,
  };
}

class FakeSource implements ToolSource {
  readonly kind = 'api_tool' as const;
  seen: Array<{ accountId: string; ref: ToolRef }> = [];
  constructor(private readonly tool: ResolvedTool) {}
  resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool> {
    this.seen.push({ accountId, ref });
    if (ref.provider !== 'p1') return Promise.reject(new NotFoundError('no such provider'));
    return Promise.resolve(this.tool);
  }
}

describe('ToolRuntime', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it('resolves through the registered source of the kind and calls with validated arguments', async () => {
    const rt = runtime();
    const calls: unknown[] = [];
    const src = new FakeSource(
      fakeTool((args) => (calls.push(args), Promise.resolve({ temp: 21 }))),
    );
    rt.register(src);
    const r = await rt.invoke(
      'acc-1',
      { type: 'api_tool', provider: 'p1', tool: 'x' },
      { city: 'Paris' },
    );
    expect(r).toEqual({
      ok: true,
      output: '{"temp":21}',
      data: { temp: 21 },
      error: '',
      latency: expect.any(Number),
    });
    expect(calls).toEqual([{ city: 'Paris' }]);
    expect(src.seen[0].accountId).toBe('acc-1');
  });

  it('answers not_found for a kind nobody registered and passes the source’s not_found on', async () => {
    const rt = runtime();
    await expect(
      rt.invoke('a', { type: 'mcp_tool', provider: 'x', tool: 'y' }, {}),
    ).rejects.toBeInstanceOf(NotFoundError);
    rt.register(new FakeSource(fakeTool(() => Promise.resolve(''))));
    await expect(
      rt.invoke('a', { type: 'api_tool', provider: 'other', tool: 'y' }, {}),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a second source of the same kind', () => {
    const rt = runtime();
    rt.register(new FakeSource(fakeTool(() => Promise.resolve(''))));
    expect(() => rt.register(new FakeSource(fakeTool(() => Promise.resolve(''))))).toThrow(/twice/);
  });

  it('turns invalid arguments into an error result, or a validate_error when asked', async () => {
    const rt = runtime();
    let called = false;
    const tool = fakeTool(() => ((called = true), Promise.resolve('x')));
    const r = await rt.call('a', tool, { days: 'two', extra: 1 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/city is required/);
    expect(r.error).toMatch(/days must be integer/);
    expect(r.error).toMatch(/extra is not an argument/);
    expect(r.output).toBe(`Error: ${r.error}`);
    const err = await rt.call('a', tool, {}, { throwOnInvalidArgs: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidateError);
    expect((err as ValidateError).data).toEqual({ city: ['city is required'] });
    expect(called).toBe(false);
  });

  it('reports a ToolCallError’s message and hides any other error', async () => {
    const rt = runtime();
    const bad = await rt.call(
      'a',
      fakeTool(() => Promise.reject(new ToolCallError('HTTP 503 from the API'))),
      { city: 'x' },
    );
    expect(bad).toMatchObject({ ok: false, error: 'HTTP 503 from the API', data: null });
    const bug = await rt.call(
      'a',
      fakeTool(() => Promise.reject(new Error('secret=abc in a stack'))),
      { city: 'x' },
    );
    expect(bug.error).toBe('the tool failed unexpectedly');
    expect(bug.output).not.toContain('secret');
  });

  it('times out a tool that ignores its signal, and stops when the caller aborts', async () => {
    const rt = runtime({ TOOL_TIMEOUT_MS: '100' });
    let sawAbort = false;
    const hang = fakeTool((_a, ctx) => {
      ctx.signal.addEventListener('abort', () => (sawAbort = true));
      return new Promise(() => undefined);
    });
    const t0 = Date.now();
    const r = await rt.call('a', hang, { city: 'x' });
    expect(r).toMatchObject({ ok: false, error: 'the tool did not answer within 100 ms' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(sawAbort).toBe(true);
    const ctl = new AbortController();
    const pending = rt.call('a', hang, { city: 'x' }, { signal: ctl.signal, timeoutMs: 60_000 });
    ctl.abort();
    expect(await pending).toMatchObject({ ok: false, error: 'the call was stopped' });
  });

  it('caps what the model reads', async () => {
    const rt = runtime({ TOOL_OUTPUT_MAX_CHARS: '100' });
    const r = await rt.call(
      'a',
      fakeTool(() => Promise.resolve('z'.repeat(500))),
      { city: 'x' },
    );
    expect(r.output.startsWith('z'.repeat(100))).toBe(true);
    expect(r.output).toMatch(/truncated at 100 characters/);
    expect(r.data).toBe('z'.repeat(500));
  });

  it('gives agents a LangChain tool that never throws', async () => {
    const rt = runtime();
    const results: unknown[] = [];
    const lc = rt.toLangChain(
      'a',
      fakeTool(() => Promise.reject(new ToolCallError('quota exceeded'))),
      {
        onResult: (r) => results.push(r.ok),
      },
    );
    expect(lc.name).toBe('get_weather');
    expect(await lc.invoke({ city: 'Oslo' })).toBe('Error: quota exceeded');
    const ok = rt.toLangChain(
      'a',
      fakeTool(() => Promise.resolve({ t: 1 })),
    );
    expect(await ok.invoke({ city: 'Oslo' })).toBe('{"t":1}');
    expect(results).toEqual([false]);
  });

  it('checks schemas: 2020-12 dialect, and a broken schema is reported', () => {
    const rt = runtime();
    expect(
      rt.schemaProblem({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: { a: { type: 'string' } },
      }),
    ).toBeNull();
    expect(
      rt.schemaProblem({ type: 'object', properties: { a: { type: 'no-such-type' } } }),
    ).toMatch(/not valid JSON Schema/);
  });

  it('makes function names OpenAI accepts', () => {
    expect(toFunctionName('get weather/today')).toBe('get_weather_today');
    expect(toFunctionName('中文')).toBe('tool');
    expect(toFunctionName('a'.repeat(80))).toHaveLength(64);
  });
});
