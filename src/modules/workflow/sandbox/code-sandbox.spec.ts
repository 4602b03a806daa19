import { CodeSandbox, CodeSandboxError } from './code-sandbox';

const MB = 1024 * 1024;
const limits = { timeoutMs: 1000, memoryBytes: 32 * MB };

async function failure(p: Promise<unknown>): Promise<CodeSandboxError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CodeSandboxError);
    return err as CodeSandboxError;
  }
  throw new Error('expected the run to fail');
}

describe('CodeSandbox', () => {
  let sandbox: CodeSandbox;

  beforeAll(async () => {
    sandbox = new CodeSandbox({ maxWorkers: 3, warmWorkers: 3 });
    await sandbox.warmUp();
  });

  afterAll(async () => {
    await sandbox.onApplicationShutdown();
  });

  describe('results', () => {
    it('returns the object main returns, with params passed in as JSON', async () => {
      const out = await sandbox.run(
        'function main(params) { return { sum: params.a + params.b, tags: params.tags.map((t) => t.toUpperCase()), nested: { ok: true } }; }',
        { a: 2, b: 40, tags: ['x', 'y'] },
        limits,
      );
      expect(out.result).toEqual({ sum: 42, tags: ['X', 'Y'], nested: { ok: true } });
      expect(out.logs).toEqual([]);
      expect(out.latencyMs).toBeGreaterThan(0);
    });

    it('awaits an async main and timers it set', async () => {
      const out = await sandbox.run(
        `async function main({ n }) {
          const wait = (ms) => new Promise((r) => setTimeout(r, ms));
          const started = Date.now();
          await wait(60);
          const slept = Date.now() - started;
          return { n: await Promise.resolve(n * 2), slept };
        }`,
        { n: 21 },
        limits,
      );
      expect(out.result.n).toBe(42);
      expect(out.result.slept).toBeGreaterThanOrEqual(55);
    });

    it('captures console output, bounded', async () => {
      const out = await sandbox.run(
        `function main() {
          console.log('hello', 1, { a: [1, 2] }, null);
          console.error('bad thing');
          for (let i = 0; i < 1000; i++) console.log('line ' + i);
          return {};
        }`,
        {},
        limits,
      );
      expect(out.logs[0]).toBe('hello 1 {"a":[1,2]} null');
      expect(out.logs[1]).toBe('bad thing');
      expect(out.logs.length).toBe(201);
      expect(out.logs.at(-1)).toMatch(/log limit reached/);
    });

    it('refuses results that are not plain JSON objects', async () => {
      for (const [ret, expected] of [
        ['42', /plain object, got number/],
        ['[1, 2]', /plain object, got an array/],
        ['null', /plain object, got null/],
        ['undefined', /plain object, got undefined/],
        ['new (class Point { constructor() { this.x = 1; } })()', /instance of Point/],
        ['{ big: 10n }', /BigInt/],
      ] as const) {
        const err = await failure(sandbox.run(`function main() { return ${ret}; }`, {}, limits));
        expect(err.kind).toBe('result');
        expect(err.message).toMatch(expected);
      }
    });

    it('refuses params that are not a JSON object and limits out of range', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const code = 'function main() { return {}; }';
      const bad: Array<[Record<string, unknown>, typeof limits]> = [
        [cyclic, limits],
        [[] as unknown as Record<string, unknown>, limits],
        [{}, { ...limits, timeoutMs: 0 }],
        [{}, { ...limits, timeoutMs: 2 ** 31 }],
        [{}, { ...limits, memoryBytes: 1000 }],
        [{}, { ...limits, memoryBytes: 4 * 1024 * MB }],
      ];
      for (const [params, opts] of bad) {
        expect((await failure(sandbox.run(code, params, opts))).kind).toBe('input');
      }
    });

    it('reuses a worker run after run without leaking its QuickJS memory', async () => {
      // 1 MB strings out, in and through timers, 40 times, in an 8 MB sandbox on one worker: a
      // handle left behind per run would exhaust the reused instance after a few runs.
      const one = new CodeSandbox({ maxWorkers: 1, warmWorkers: 1 });
      try {
        for (let i = 0; i < 40; i++) {
          const out = await one.run(
            `async function main(p) {
              const s = 'x'.repeat(1e6) + p.tail;
              await new Promise((r) => setTimeout(r, 0));
              console.log(s);
              return { n: s.length, s };
            }`,
            { tail: 'y'.repeat(1000) },
            { timeoutMs: 2000, memoryBytes: 8 * MB },
          );
          expect(out.result.n).toBe(1001000);
        }
        expect(one.workerCount).toBe(1);
      } finally {
        await one.onApplicationShutdown();
      }
    });

    it('setTimeout checks its arguments and bounds pending timers', async () => {
      const bad = await failure(
        sandbox.run("function main() { setTimeout('1 + 1', 10); return {}; }", {}, limits),
      );
      expect(bad.message).toMatch(/^TypeError: setTimeout needs a function \(line 1\)$/);
      const many = await failure(
        sandbox.run(
          'function main() { for (let i = 0; i < 2000; i++) setTimeout(() => {}, 10); return {}; }',
          {},
          limits,
        ),
      );
      expect(many.message).toMatch(/^RangeError: more than 1000 pending timers/);
      const cleared = await sandbox.run(
        `async function main() {
          let fired = 0;
          const t = setTimeout(() => fired++, 20);
          clearTimeout(t);
          await new Promise((r) => setTimeout(r, 50));
          return { fired };
        }`,
        {},
        limits,
      );
      expect(cleared.result).toEqual({ fired: 0 });
    });
  });

  describe('user errors', () => {
    it('reports a syntax error with its line', async () => {
      const err = await failure(sandbox.run('function main() {\n  return { a: 1 ;\n}', {}, limits));
      expect(err.kind).toBe('syntax');
      expect(err.message).toMatch(/^SyntaxError: .+ \(line 2\)$/);
    });

    it('reports a thrown error with its message and line, and the logs before it', async () => {
      const err = await failure(
        sandbox.run(
          "function main() {\n  console.log('before');\n  throw new TypeError('no good');\n}",
          {},
          limits,
        ),
      );
      expect(err.kind).toBe('runtime');
      expect(err.message).toBe('TypeError: no good (line 3)');
      expect(err.logs).toEqual(['before']);
    });

    it('reports thrown values that are not errors', async () => {
      for (const [thrown, message] of [
        ["'boom'", 'Uncaught: boom'],
        ['null', 'Uncaught: null'],
        ['{ code: 7 }', 'Uncaught: {"code":7}'],
        ["{ message: 'plain' }", 'Error: plain'],
      ]) {
        const err = await failure(sandbox.run(`function main() { throw ${thrown}; }`, {}, limits));
        expect(err.kind).toBe('runtime');
        expect(err.message).toBe(message);
      }
    });

    it('reports a rejected async main and a missing main', async () => {
      const rejected = await failure(
        sandbox.run("async function main() { await null; throw new Error('later'); }", {}, limits),
      );
      expect(rejected.message).toMatch(/^Error: later/);
      const missing = await failure(sandbox.run('const x = 1;', {}, limits));
      expect(missing.message).toMatch(/define a function main/);
      const never = await failure(
        sandbox.run('function main() { return new Promise(() => {}); }', {}, limits),
      );
      expect(never.message).toMatch(/never settles/);
    });
  });

  describe('no way out', () => {
    it.each([
      ['require', "typeof require === 'undefined'"],
      ['process', "typeof process === 'undefined'"],
      [
        'fetch',
        "typeof fetch === 'undefined' && typeof XMLHttpRequest === 'undefined' && typeof WebSocket === 'undefined'",
      ],
      [
        'module and file APIs',
        "typeof module === 'undefined' && typeof std === 'undefined' && typeof os === 'undefined' && typeof Deno === 'undefined' && typeof Bun === 'undefined'",
      ],
      [
        'timers other than setTimeout',
        "typeof setInterval === 'undefined' && typeof setImmediate === 'undefined' && typeof queueMicrotask === 'undefined'",
      ],
    ])('%s is absent', async (_, check) => {
      const out = await sandbox.run(`function main() { return { absent: ${check} }; }`, {}, limits);
      expect(out.result).toEqual({ absent: true });
    });

    it('the Function constructor reaches only the sandbox global', async () => {
      const out = await sandbox.run(
        `function main() {
          const F = globalThis.constructor.constructor;
          const g = F('return this')();
          let proc;
          try { proc = F('return process')(); } catch (e) { proc = e.name; }
          let req;
          try { req = (0, eval)('require("fs")'); } catch (e) { req = e.name; }
          return { same: g === globalThis, proc, req, keys: Object.getOwnPropertyNames(globalThis).filter((k) => /^[a-z]/.test(k)).sort() };
        }`,
        {},
        limits,
      );
      expect(out.result).toEqual({
        same: true,
        proc: 'ReferenceError',
        req: 'ReferenceError',
        keys: [
          'clearTimeout',
          'console',
          'decodeURI',
          'decodeURIComponent',
          'encodeURI',
          'encodeURIComponent',
          'escape',
          'eval',
          'globalThis',
          'isFinite',
          'isNaN',
          'main',
          'parseFloat',
          'parseInt',
          'setTimeout',
          'undefined',
          'unescape',
        ],
      });
    });

    it('a run cannot see what an earlier run left on its global', async () => {
      await sandbox.run('globalThis.leak = 1; function main() { return {}; }', {}, limits);
      const out = await sandbox.run(
        'function main() { return { leak: typeof leak }; }',
        {},
        limits,
      );
      expect(out.result).toEqual({ leak: 'undefined' });
    });
  });

  describe('limits', () => {
    it('stops an infinite loop at the time limit while the event loop keeps ticking', async () => {
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      const started = Date.now();
      const err = await failure(
        sandbox.run('function main() { while (true) {} }', {}, { ...limits, timeoutMs: 400 }),
      );
      clearInterval(ticker);
      const took = Date.now() - started;
      expect(err.kind).toBe('timeout');
      expect(err.message).toBe('code exceeded its time limit of 400 ms');
      expect(took).toBeGreaterThanOrEqual(390);
      expect(took).toBeLessThan(1500);
      // 10 ms ticks over ~400 ms: the main thread was never blocked.
      expect(ticks).toBeGreaterThanOrEqual(20);
    });

    it('stops an infinite loop inside an async main', async () => {
      const err = await failure(
        sandbox.run(
          'async function main() { await null; while (true) {} }',
          {},
          { ...limits, timeoutMs: 300 },
        ),
      );
      expect(err.message).toBe('code exceeded its time limit of 300 ms');
      const jobs = await failure(
        sandbox.run(
          'async function main() { for (;;) await null; }',
          {},
          { ...limits, timeoutMs: 300 },
        ),
      );
      expect(jobs.message).toBe('code exceeded its time limit of 300 ms');
    });

    it('stops timers that would outlive the limit', async () => {
      const started = Date.now();
      const err = await failure(
        sandbox.run(
          'async function main() { await new Promise((r) => setTimeout(r, 60000)); return {}; }',
          {},
          { ...limits, timeoutMs: 300 },
        ),
      );
      expect(err.kind).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('stops a catch-and-continue loop: the interrupt is not catchable', async () => {
      const err = await failure(
        sandbox.run(
          'function main() { for (;;) { try { while (true) {} } catch (e) { /* keep going */ } } }',
          {},
          { ...limits, timeoutMs: 300 },
        ),
      );
      expect(err.kind).toBe('timeout');
    });

    it.each([
      [
        '1 MB arrays',
        'const keep = []; for (let i = 0; i < 500; i++) keep.push(new Array(131072).fill(i)); return { n: keep.length };',
      ],
      [
        'doubling strings',
        "let s = 'x'; for (let i = 0; i < 40; i++) s = s + s; return { n: s.length };",
      ],
      [
        'many small objects',
        'const keep = []; for (let i = 0; i < 1e8; i++) keep.push({ i, s: "abc" + i }); return { n: keep.length };',
      ],
      [
        'typed arrays',
        'const keep = []; for (let i = 0; i < 500; i++) keep.push(new Uint8Array(1048576)); return { n: keep.length };',
      ],
    ])('stops a memory bomb (%s) at the memory limit, RSS bounded', async (_, body) => {
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(
        () => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)),
        5,
      );
      const err = await failure(
        sandbox.run(`function main() { ${body} }`, {}, { timeoutMs: 10000, memoryBytes: 32 * MB }),
      );
      clearInterval(sampler);
      expect(err.message).toBe('code exceeded its memory limit of 32 MB');
      expect(err.kind).toBe('memory');
      expect(err.message).toBe('code exceeded its memory limit of 32 MB');
      // 500 MB was asked for; the run's WASM memory stops at 6 + 32 MB (plus copies in flight).
      expect(rssPeak - rssBefore).toBeLessThan(150 * MB);
    });

    it('a worker over its own V8 heap limit (host-side copies) fails as a memory error', async () => {
      const small = new CodeSandbox({ maxWorkers: 1, warmWorkers: 1, workerOldGenerationMb: 8 });
      try {
        // The params string is copied into the worker's heap before QuickJS sees it.
        const err = await failure(
          small.run(
            'function main(p) { return { n: p.items.length }; }',
            { items: Array.from({ length: 300000 }, (_, i) => ({ i, s: `item ${i}` })) },
            { timeoutMs: 5000, memoryBytes: 256 * MB },
          ),
        );
        expect(err.kind).toBe('memory');
        // The pool replaced the dead worker.
        const out = await small.run('function main() { return { ok: true }; }', {}, limits);
        expect(out.result).toEqual({ ok: true });
      } finally {
        await small.onApplicationShutdown();
      }
    });

    it('a huge value logged or returned stays out of the host', async () => {
      const logged = await sandbox.run(
        "function main() { const a = []; for (let i = 0; i < 200000; i++) a.push({ i }); console.log(a, 'x'.repeat(1e6)); return {}; }",
        {},
        { timeoutMs: 5000, memoryBytes: 64 * MB },
      );
      expect(logged.logs[0].length).toBeLessThan(10000);
      const big = await failure(
        sandbox.run(
          "function main() { return { s: 'x'.repeat(20e6) }; }",
          {},
          {
            timeoutMs: 5000,
            memoryBytes: 128 * MB,
          },
        ),
      );
      expect(big.kind).toBe('result');
      expect(big.message).toMatch(/larger than 16777216 characters/);
    });

    it('a result too big to serialize within the limit is a memory error, not a result error', async () => {
      const err = await failure(
        sandbox.run(
          "function main() { return { s: 'x'.repeat(6e6) }; }",
          {},
          { timeoutMs: 5000, memoryBytes: 8 * MB },
        ),
      );
      expect(err.kind).toBe('memory');
    });

    it('stops deep recursion with a stack error', async () => {
      const err = await failure(
        sandbox.run(
          'function f(n) { return f(n + 1) + 1; } function main() { return { n: f(0) }; }',
          {},
          limits,
        ),
      );
      expect(err.kind).toBe('stack');
      expect(err.message).toBe('code exceeded its stack limit (recursion too deep)');
    });

    it('still runs normally after the limits were hit (broken workers were discarded)', async () => {
      const out = await sandbox.run('function main() { return { ok: 1 }; }', {}, limits);
      expect(out.result).toEqual({ ok: 1 });
      expect(sandbox.workerCount).toBeLessThanOrEqual(3);
    });
  });

  describe('concurrency and abort', () => {
    it('runs several programs at once, in parallel, each with its own result', async () => {
      await sandbox.warmUp();
      const started = Date.now();
      const outs = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          sandbox.run(
            'async function main({ i }) { await new Promise((r) => setTimeout(r, 200)); return { i }; }',
            { i },
            limits,
          ),
        ),
      );
      expect(outs.map((o) => o.result.i)).toEqual([0, 1, 2, 3, 4, 5]);
      // Three workers, six 200 ms runs: two rounds, not six.
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('a failing run does not disturb the others', async () => {
      const [loop, ok] = await Promise.allSettled([
        sandbox.run('function main() { while (true) {} }', {}, { ...limits, timeoutMs: 300 }),
        sandbox.run('function main(p) { return { v: p.v }; }', { v: 'x' }, limits),
      ]);
      expect(loop.status).toBe('rejected');
      expect(ok).toEqual({
        status: 'fulfilled',
        value: expect.objectContaining({ result: { v: 'x' } }),
      });
    });

    it('an abort signal stops a running program at once', async () => {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 100);
      const err = await failure(
        sandbox.run(
          'function main() { while (true) {} }',
          {},
          { timeoutMs: 10000, memoryBytes: 32 * MB, signal: controller.signal },
        ),
      );
      expect(err.kind).toBe('aborted');
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(
        sandbox.run(
          'function main() { return {}; }',
          {},
          { ...limits, signal: AbortSignal.abort() },
        ),
      ).rejects.toMatchObject({ kind: 'aborted' });
    });

    it('an aborted worker really stops: no CPU burnt after the abort', async () => {
      // A 10 s limit: only worker.terminate(), not QuickJS's interrupt, can stop this loop now.
      const err = failure(
        sandbox.run(
          'function main() { while (true) {} }',
          {},
          {
            ...limits,
            timeoutMs: 10000,
            signal: AbortSignal.timeout(150),
          },
        ),
      );
      expect((await err).kind).toBe('aborted');
      const cpu = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 400));
      const used = process.cpuUsage(cpu);
      // A worker still spinning would add ~400 ms of CPU here.
      expect((used.user + used.system) / 1000).toBeLessThan(200);
    });

    it('a waiter that gives up while its worker starts does not take the worker with it', async () => {
      const own = new CodeSandbox({ maxWorkers: 1, warmWorkers: 0 });
      try {
        const waiter = new AbortController();
        // The only worker times out and is replaced; the replacement starts for the waiter...
        const first = failure(
          own.run('function main() { while (true) {} }', {}, { ...limits, timeoutMs: 200 }),
        );
        const second = failure(
          own.run('function main() { return {}; }', {}, { ...limits, signal: waiter.signal }),
        );
        expect((await first).kind).toBe('timeout');
        // ...which aborts before the replacement is up.
        waiter.abort();
        expect((await second).kind).toBe('aborted');
        // The replacement serves the next run instead of being lost with the waiter.
        const next = own.run('function main() { return { ok: true }; }', {}, limits);
        const outcome = await Promise.race([
          next.then((r) => r.result),
          new Promise((r) => setTimeout(() => r('no worker'), 5000)),
        ]);
        expect(outcome).toEqual({ ok: true });
      } finally {
        await own.onApplicationShutdown();
      }
    });

    it('shutting down ends runs in flight as aborted', async () => {
      const own = new CodeSandbox({ maxWorkers: 1, warmWorkers: 0 });
      const running = failure(
        own.run('function main() { while (true) {} }', {}, { ...limits, timeoutMs: 10000 }),
      );
      await new Promise((r) => setTimeout(r, 300));
      await own.onApplicationShutdown();
      expect((await running).kind).toBe('aborted');
      expect(own.workerCount).toBe(0);
    });
  });
});
