import { newQuickJSWASMModule } from 'quickjs-emscripten';
import { CodeSandbox } from 'src/modules/workflow/sandbox/code-sandbox';

const N = Number(process.env.BENCH_N ?? 300);
const CODE = 'function main(p) { return { sum: p.a + p.b, text: "n=" + p.a }; }';
const PARAMS = { a: 1, b: 2 };
const LIMITS = { timeoutMs: 1000, memoryBytes: 32 * 1024 * 1024 };
/** The workflow issue's aim for the sandbox: a few ms of overhead per run. */
const TARGET_WARM_OVERHEAD_MS = 5;

function stats(samples: number[]): { median: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p95: s[Math.floor(s.length * 0.95)] };
}

/**
 * Per-run cost of the sandbox (worker thread, fresh capped WASM instance, JSON both ways) against
 * the same program run directly in QuickJS on the calling thread with no isolation at all.
 */
export async function run(): Promise<void> {
  // Baseline: one module loaded once, a new runtime and context per run (the least QuickJS needs).
  const qjs = await newQuickJSWASMModule();
  const direct: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const ctx = qjs.newContext();
    const res = ctx.evalCode(`${CODE}\nJSON.stringify(main(${JSON.stringify(PARAMS)}))`);
    const value = ctx.unwrapResult(res);
    JSON.parse(ctx.getString(value));
    value.dispose();
    ctx.dispose();
    direct.push(performance.now() - t);
  }

  const coldStart = performance.now();
  const cold = new CodeSandbox({ warmWorkers: 1 });
  await cold.run(CODE, PARAMS, LIMITS);
  const coldMs = performance.now() - coldStart;
  const secondStart = performance.now();
  await cold.run(CODE, PARAMS, LIMITS);
  const secondMs = performance.now() - secondStart;
  await cold.onApplicationShutdown();

  const sandbox = new CodeSandbox();
  await sandbox.warmUp();
  const warm: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await sandbox.run(CODE, PARAMS, LIMITS);
    warm.push(performance.now() - t);
  }
  const parallelStart = performance.now();
  await Promise.all(Array.from({ length: N }, () => sandbox.run(CODE, PARAMS, LIMITS)));
  const perSecond = N / ((performance.now() - parallelStart) / 1000);
  await sandbox.onApplicationShutdown();

  const d = stats(direct);
  const w = stats(warm);
  const overhead = w.median - d.median;
  console.log(
    `direct QuickJS (same thread, no limits): median ${d.median.toFixed(2)} ms, p95 ${d.p95.toFixed(2)} ms`,
  );
  console.log(
    `sandbox cold (first run: wasm compile + worker start): ${coldMs.toFixed(1)} ms; next run ${secondMs.toFixed(2)} ms`,
  );
  console.log(`sandbox warm: median ${w.median.toFixed(2)} ms, p95 ${w.p95.toFixed(2)} ms`);
  console.log(
    `sandbox overhead per warm run: ${overhead.toFixed(2)} ms (target < ${TARGET_WARM_OVERHEAD_MS} ms) ${overhead < TARGET_WARM_OVERHEAD_MS ? 'OK' : 'MISSED'}`,
  );
  console.log(
    `sandbox throughput, ${N} runs at once on the default pool: ${perSecond.toFixed(0)} runs/s`,
  );
}
