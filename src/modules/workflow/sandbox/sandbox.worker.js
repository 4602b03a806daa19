'use strict';
// Worker thread of CodeSandbox (code-sandbox.ts): runs one user program per message in a fresh
// QuickJS WASM instance whose WebAssembly.Memory has a hard maximum. Plain CommonJS so the same
// file runs under ts-jest and from dist (copied there as a nest-cli asset) without a loader.
const { parentPort, workerData } = require('node:worker_threads');
const { newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC } = require('quickjs-emscripten');

const PAGE = 65536;
// The release build imports at least 16 MB (its INITIAL_MEMORY); about 5.25 MB of it is static
// data and the C stack (measured: 10.75 MB of a 16 MB memory is left to allocate).
const BASE_PAGES = 256;
const OVERHEAD_BYTES = 6 * 1024 * 1024;
const FILENAME = 'main.js';
const MAX_TIMERS = 1000;
// WASM memory never shrinks: an instance that grew past this is dropped rather than kept idle.
const MAX_CACHED_BYTES = 64 * 1024 * 1024;

const wasmModule = workerData.wasmModule;
const limits = workerData.limits;

class RunFailure extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function lineOf(stack) {
  const m = typeof stack === 'string' ? /main\.js:(\d+)(?::(\d+))?/.exec(stack) : null;
  return m ? Number(m[1]) : undefined;
}

function describeError(dumped) {
  if (dumped && typeof dumped === 'object' && typeof dumped.message === 'string') {
    const name = typeof dumped.name === 'string' && dumped.name ? dumped.name : 'Error';
    return { name, message: dumped.message, line: lineOf(dumped.stack) };
  }
  // `throw 'text'`, `throw { code: 1 }` and the like: no message, no stack.
  return { name: 'Uncaught', message: safeString(dumped) };
}

function safeString(v) {
  try {
    return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

class Logs {
  constructor() {
    this.lines = [];
    this.bytes = 0;
    this.truncated = false;
  }
  push(line) {
    if (this.truncated) return;
    const text =
      line.length > limits.maxLogLineChars ? `${line.slice(0, limits.maxLogLineChars)}…` : line;
    if (this.lines.length >= limits.maxLogLines || this.bytes + text.length > limits.maxLogChars) {
      this.truncated = true;
      this.lines.push('[further logs dropped: log limit reached]');
      return;
    }
    this.bytes += text.length;
    this.lines.push(text);
  }
}

// The instance of the last clean run, reused by the next run with the same memory limit: every
// run gets its own QuickJS runtime (a separate heap), and a run that failed drops the instance.
let cached;

// The program gets about memoryBytes of heap (at least the ~10 MB the initial memory leaves).
function maxPages(memoryBytes) {
  return Math.max(BASE_PAGES, Math.ceil((OVERHEAD_BYTES + memoryBytes) / PAGE));
}

async function instanceFor(memoryBytes) {
  if (cached && cached.memoryBytes === memoryBytes) {
    const reused = cached;
    cached = undefined;
    return reused;
  }
  cached = undefined;
  const memory = new WebAssembly.Memory({
    initial: BASE_PAGES,
    maximum: maxPages(memoryBytes),
  });
  const quiet = () => undefined;
  const qjs = await newQuickJSWASMModuleFromVariant(
    newVariant(RELEASE_SYNC, {
      wasmModule,
      wasmMemory: memory,
      // Emscripten prints aborts (e.g. after a stack overflow) to stderr; we report them ourselves.
      emscriptenModule: { print: quiet, printErr: quiet },
    }),
  );
  return { memoryBytes, memory, qjs };
}

async function run(msg) {
  const memoryBytes = msg.memoryBytes;
  const deadline = Date.now() + msg.timeoutMs;
  const instance = await instanceFor(memoryBytes);
  const { memory, qjs } = instance;
  const logs = new Logs();
  const rt = qjs.newRuntime();
  // Both bounds: QuickJS's own count (undercounts many small allocations) and the WASM maximum.
  rt.setMemoryLimit(memoryBytes);
  // Remembered: an interrupt inside a promise job may reject a promise main never sees, leaving
  // main pending rather than failed.
  let interrupted = false;
  rt.setInterruptHandler(() => (interrupted ||= Date.now() > deadline));
  const ctx = rt.newContext();
  const timers = new Map();
  let nextTimerId = 1;
  let clean = false;

  const fail = (handle) => {
    const dumped = ctx.dump(handle);
    handle.dispose();
    return dumped;
  };
  const maxBytes = maxPages(memoryBytes) * PAGE;
  // QuickJS throws null when it cannot even allocate its out-of-memory error. malloc grows the
  // memory by up to 20% at a time and gives up when that step passes the cap, so a failed
  // allocation leaves the memory within that margin of the cap.
  const nearCap = () => memory.buffer.byteLength >= maxBytes * 0.75;
  const classify = (dumped) => {
    if (interrupted) return new RunFailure('timeout', '');
    if (dumped === null && nearCap()) return new RunFailure('memory', '');
    const d = describeError(dumped);
    if (d.name === 'InternalError' && d.message === 'interrupted') {
      return new RunFailure('timeout', '');
    }
    if (
      d.name === 'InternalError' &&
      /out of memory|string too long|array too long/.test(d.message)
    ) {
      return new RunFailure('memory', '');
    }
    if (/stack overflow|call stack/i.test(d.message)) return new RunFailure('stack', '');
    const where = d.line ? ` (line ${d.line})` : '';
    return new RunFailure(
      d.name === 'SyntaxError' ? 'syntax' : 'runtime',
      `${d.name}: ${d.message}${where}`,
    );
  };
  const unwrap = (res) => {
    if (res.error) throw classify(fail(res.error));
    return res.value;
  };

  try {
    // Captured before user code runs, so redefining JSON or Object cannot fake a result.
    const helpers = unwrap(
      ctx.evalCode(
        `(() => {
          const stringify = JSON.stringify, parse = JSON.parse, proto = Object.getPrototypeOf,
            isArray = Array.isArray, plain = Object.prototype, Internal = InternalError;
          return {
            parse,
            // Logs are formatted and cut here, so a huge value never reaches the worker's heap.
            format(v, max) {
              let s;
              if (typeof v === 'string') s = v;
              else {
                try { s = stringify(v); } catch (e) { if (e === null || e instanceof Internal) throw e; s = undefined; }
                if (s === undefined) {
                  try { s = String(v); } catch { s = '[unprintable ' + typeof v + ']'; }
                }
              }
              return s.length > max ? s.slice(0, max) + '…' : s;
            },
            result(v) {
              if (v === null || typeof v !== 'object' || isArray(v)) {
                return '!main must return a plain object, got ' + (v === null ? 'null' : isArray(v) ? 'an array' : typeof v);
              }
              const p = proto(v);
              if (p !== plain && p !== null) return '!main must return a plain object, got an instance of ' + (p && p.constructor && p.constructor.name || 'a class');
              let json;
              try {
                json = stringify(v);
              } catch (e) {
                // Out of memory (or a too long string) is the limit's error, not a result error.
                if (e === null || e instanceof Internal) throw e;
                return '!main returned a value that is not JSON: ' + (e && e.message);
              }
              if (json.length > ${limits.maxResultChars}) return '!the result is larger than ${limits.maxResultChars} characters of JSON';
              return json;
            },
          };
        })()`,
        'sandbox-bootstrap.js',
      ),
    );

    const format = ctx.getProp(helpers, 'format');
    const maxLine = ctx.newNumber(limits.maxLogLineChars);
    const consoleObj = ctx.newObject();
    for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
      const fn = ctx.newFunction(level, (...args) => {
        if (logs.truncated) return;
        const parts = [];
        for (const a of args) {
          const res = ctx.callFunction(format, ctx.undefined, a, maxLine);
          if (res.error) return res;
          parts.push(ctx.getString(res.value));
          res.value.dispose();
        }
        logs.push(parts.join(' '));
      });
      ctx.setProp(consoleObj, level, fn);
      fn.dispose();
    }
    ctx.setProp(ctx.global, 'console', consoleObj);
    consoleObj.dispose();

    // Timers run on the worker's clock and within the run's deadline; nothing else is exposed.
    const setTimeoutFn = ctx.newFunction('setTimeout', (cb, ms) => {
      if (ctx.typeof(cb) !== 'function') {
        return {
          error: ctx.newError({ name: 'TypeError', message: 'setTimeout needs a function' }),
        };
      }
      if (timers.size >= MAX_TIMERS) {
        return {
          error: ctx.newError({
            name: 'RangeError',
            message: `more than ${MAX_TIMERS} pending timers`,
          }),
        };
      }
      const delay = Math.max(0, Number(ms ? ctx.getNumber(ms) : 0) || 0);
      const id = nextTimerId++;
      timers.set(id, { at: Date.now() + delay, seq: id, cb: cb.dup() });
      return ctx.newNumber(id);
    });
    ctx.setProp(ctx.global, 'setTimeout', setTimeoutFn);
    setTimeoutFn.dispose();
    const clearTimeoutFn = ctx.newFunction('clearTimeout', (idHandle) => {
      const id = ctx.typeof(idHandle) === 'number' ? ctx.getNumber(idHandle) : -1;
      const t = timers.get(id);
      if (t) {
        t.cb.dispose();
        timers.delete(id);
      }
    });
    ctx.setProp(ctx.global, 'clearTimeout', clearTimeoutFn);
    clearTimeoutFn.dispose();

    unwrap(ctx.evalCode(msg.code, FILENAME)).dispose();
    const main = ctx.getProp(ctx.global, 'main');
    if (ctx.typeof(main) !== 'function') {
      main.dispose();
      throw new RunFailure('runtime', 'the code must define a function main(params)');
    }
    const parse = ctx.getProp(helpers, 'parse');
    const paramsJson = ctx.newString(msg.params);
    const params = unwrap(ctx.callFunction(parse, ctx.undefined, paramsJson));
    paramsJson.dispose();
    parse.dispose();
    let value = unwrap(ctx.callFunction(main, ctx.undefined, params));
    params.dispose();
    main.dispose();

    // An async main: drive its jobs and our timers until the promise settles.
    const first = ctx.getPromiseState(value);
    if (!first.notAPromise) {
      // Settled already: the state holds a handle of its own, re-read below.
      if (first.type === 'fulfilled') first.value.dispose();
      if (first.type === 'rejected') first.error.dispose();
      for (;;) {
        unwrap(rt.executePendingJobs());
        if (interrupted) throw new RunFailure('timeout', '');
        const state = ctx.getPromiseState(value);
        if (state.type === 'fulfilled') {
          value.dispose();
          value = state.value;
          break;
        }
        if (state.type === 'rejected') {
          value.dispose();
          throw classify(fail(state.error));
        }
        if (timers.size === 0) {
          throw new RunFailure('runtime', 'main returned a promise that never settles');
        }
        let next;
        for (const t of timers.values()) if (!next || t.at < next.at) next = t;
        if (next.at > deadline) throw new RunFailure('timeout', '');
        const wait = next.at - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        timers.delete(next.seq);
        const r = ctx.callFunction(next.cb, ctx.undefined);
        next.cb.dispose();
        if (r.error) throw classify(fail(r.error));
        r.value.dispose();
      }
    }

    const resultFn = ctx.getProp(helpers, 'result');
    const jsonHandle = unwrap(ctx.callFunction(resultFn, ctx.undefined, value));
    const json = ctx.getString(jsonHandle);
    jsonHandle.dispose();
    resultFn.dispose();
    value.dispose();
    format.dispose();
    maxLine.dispose();
    helpers.dispose();
    if (json.startsWith('!')) throw new RunFailure('result', json.slice(1));
    clean = true;
    return { ok: true, result: json, logs: logs.lines };
  } catch (err) {
    if (err instanceof RunFailure)
      return { ok: false, kind: err.kind, message: err.message, logs: logs.lines };
    // A host-side RangeError: the WASM recursion overflowed the worker's native stack.
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      return { ok: false, kind: 'stack', message: '', logs: logs.lines };
    }
    if (nearCap()) {
      return { ok: false, kind: 'memory', message: '', logs: logs.lines };
    }
    return {
      ok: false,
      kind: 'crashed',
      message: String(err && err.message ? err.message : err),
      logs: logs.lines,
    };
  } finally {
    if (clean) {
      // Only a clean run frees its handles one by one and leaves the instance for the next run;
      // after a failure the whole instance is dropped.
      try {
        for (const t of timers.values()) t.cb.dispose();
        ctx.dispose();
        rt.dispose();
        if (memory.buffer.byteLength <= MAX_CACHED_BYTES) cached = instance;
      } catch {
        /* a leak QuickJS refused to free: the instance is not reused */
      }
    }
  }
}

parentPort.on('message', (msg) => {
  run(msg).then(
    (reply) => parentPort.postMessage({ id: msg.id, ...reply }),
    (err) =>
      parentPort.postMessage({
        id: msg.id,
        ok: false,
        kind: 'crashed',
        message: String(err),
        logs: [],
      }),
  );
});
parentPort.postMessage({ ready: true });
