import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { Client } from 'pg';
import { FakeProcess } from './support/fake-process';

/** Chats per measured run, and how many at once (the issue: 500 concurrent streaming chats). */
const N = Number(process.env.BENCH_N ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);
/** Content chunks per completion and the pause between the fake's stream frames. */
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20);
const CHUNK_DELAY_MS = Number(process.env.BENCH_CHUNK_DELAY_MS ?? 50);
/**
 * The load generator's chats start spread over this many ms (default: one chat's length at the
 * fake's pace), so CONCURRENCY chats are open at once in a steady state and arrive at an even
 * rate, rather than in waves of CONCURRENCY at one instant. 0 starts them all at once.
 */
const RAMP_MS = Number(process.env.BENCH_RAMP_MS ?? CHUNKS * CHUNK_DELAY_MS);
const MODES = (process.env.BENCH_MODES ?? 'scale,embedded').split(',').map((m) => m.trim());
const TARGET_ADDED_TTFT_MS = 10;
const ADMIN_DATABASE_URL =
  process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = path.join(__dirname, '..');
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const CLK_TCK = 100;

interface Sample {
  ttft: number;
  total: number;
}
interface Phase {
  samples: Sample[];
  errors: number;
  firstError?: string;
  wallMs: number;
  serverCpuMs: number;
  fakeCpuMs: number;
  /** This process's CPU: the load generator (the OpenAI SDK clients). */
  loadCpuMs: number;
  peakRssMb: number;
}
type OneChat = () => Promise<Sample>;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** LLMOps as production runs it (dist/main.js), in its own process. */
async function startServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(NODE, [path.join(ROOT, 'dist', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('server did not start within 90 s');
    if (
      await fetch(`${url}/ping`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, url };
    await sleep(100);
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** CPU (user + system) of a process so far, ms, from /proc. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

async function api<T>(url: string, pathname: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${url}${pathname}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { code: string; message: string; data: T };
  if (json.code !== 'success') throw new Error(`${pathname}: ${json.code} ${json.message}`);
  return json.data;
}

/** A signed-in account, its service-API key and a published app (default config: openai/gpt-4o-mini). */
async function setUp(url: string): Promise<{ apiKey: string; appId: string }> {
  const { access_token } = await api<{ access_token: string }>(url, '/account/register', {
    email: `bench-${randomBytes(4).toString('hex')}@example.test`,
    password: 'bench-passw0rd',
    name: 'Bench',
  });
  const { api_key } = await api<{ api_key: string }>(url, '/openapi/api-keys', {}, access_token);
  const { id } = await api<{ id: string }>(
    url,
    '/apps',
    { name: 'Bench', icon: 'http://localhost:5000/upload/app.png' },
    access_token,
  );
  await api(url, `/apps/${id}/publish`, {}, access_token);
  return { apiKey: api_key, appId: id };
}

/** A streaming chat through an OpenAI SDK client: time to the first content, and to the end. */
function sdkChat(client: OpenAI, model: string): OneChat {
  return async () => {
    const t0 = performance.now();
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Say something short about benchmarks.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let ttft = NaN;
    let usage = false;
    for await (const chunk of stream) {
      if (Number.isNaN(ttft) && chunk.choices[0]?.delta?.content) ttft = performance.now() - t0;
      if (chunk.usage) usage = true;
    }
    if (Number.isNaN(ttft)) throw new Error('no content');
    if (!usage) throw new Error('no usage chunk');
    return { ttft, total: performance.now() - t0 };
  };
}

async function phase(
  one: OneChat,
  n: number,
  concurrency: number,
  fake: FakeProcess,
  serverPid: number | null,
  rampMs = 0,
): Promise<Phase> {
  const samples: Sample[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  let peakRssMb = serverPid ? rssMb(serverPid) : NaN;
  const sampler = serverPid
    ? setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(serverPid))), 50)
    : undefined;
  const workers = Math.min(concurrency, n);
  const worker = async (index: number) => {
    if (rampMs > 0) await sleep((index * rampMs) / workers);
    while (next < n) {
      next += 1;
      try {
        samples.push(await one());
      } catch (err) {
        errors += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  const fake0 = await fake.cpuMs();
  const server0 = serverPid ? procCpuMs(serverPid) : 0;
  const load0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  const wallMs = performance.now() - start;
  const load = process.cpuUsage(load0);
  if (sampler) clearInterval(sampler);
  return {
    samples,
    errors,
    firstError,
    wallMs,
    serverCpuMs: serverPid ? procCpuMs(serverPid) - server0 : 0,
    fakeCpuMs: (await fake.cpuMs()) - fake0,
    loadCpuMs: (load.user + load.system) / 1000,
    peakRssMb,
  };
}

function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

/**
 * CONCURRENCY concurrent streaming chats through `/v1/chat/completions` (the OpenAI SDK, a
 * published app on the fake LLM: the agent turn with its end user, conversation, message, steps
 * and usage rows) against the same SDK streaming from the fake LLM directly, in one run. The
 * server (dist/main.js) and the fake run in their own processes; this process generates the
 * load. Prints the added time to first token, errors, the server's CPU per chat (all of it is
 * added: the direct baseline has no server) and its peak RSS, in the scale mode (PostgreSQL +
 * Redis) and the embedded mode (PGlite, no Redis).
 */
export async function run(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'main.js')))
    throw new Error('chat-overhead runs the built server: npm run build first');
  const fake = await FakeProcess.start(CHUNKS);
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  const dbName = `llmops_bench_${randomBytes(4).toString('hex')}`;
  const verdicts: string[] = [];
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
    const dbUrl = new URL(ADMIN_DATABASE_URL);
    dbUrl.pathname = `/${dbName}`;
    console.log(
      `chats=${N} per run, ${CONCURRENCY} at once, ${RAMP_MS > 0 ? `their starts spread over ${RAMP_MS} ms (a steady state)` : 'all started at one instant (a burst)'}; ` +
        `fake: ${CHUNKS} content chunks, ${CHUNK_DELAY_MS} ms between frames; ` +
        `cores=${availableParallelism()}; server, fake and load generator in separate processes`,
    );
    for (const mode of MODES) {
      const storage = mkdtempSync(path.join(tmpdir(), 'llmops-bench-'));
      const env: Record<string, string> = {
        NODE_ENV: 'production',
        LOG_LEVEL: 'silent',
        THROTTLE_LIMIT: '1000000',
        API_KEY_THROTTLE_LIMIT: '0',
        JWT_SECRET: randomBytes(32).toString('hex'),
        ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        STORAGE_DIR: storage,
        OPENAI_API_KEY: 'sk-bench',
        OPENAI_API_BASE: fake.baseURL,
        MODEL_MAX_RETRIES: '0',
        DATABASE_URL: mode === 'scale' ? dbUrl.toString() : '',
        REDIS_URL: mode === 'scale' ? REDIS_URL : '',
        // e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the server under the load.
        ...(process.env.BENCH_SERVER_NODE_OPTIONS
          ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS }
          : {}),
        ...(mode === 'scale'
          ? {
              REDIS_PREFIX: `llmops-bench-${randomBytes(4).toString('hex')}`,
              DATABASE_POOL_MAX: process.env.BENCH_DATABASE_POOL_MAX ?? '20',
            }
          : {}),
      };
      const server = await startServer(env);
      try {
        const { apiKey, appId } = await setUp(server.url);
        const pid = server.child.pid!;
        const direct = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-bench', maxRetries: 0 });
        const ours = new OpenAI({
          baseURL: `${server.url}/v1`,
          apiKey,
          maxRetries: 0,
          timeout: 120_000,
        });
        const baseline = sdkChat(direct, 'gpt-4o-mini');
        const through = sdkChat(ours, appId);
        await fake.pace(0);
        await phase(baseline, WARMUP, 10, fake, null);
        await phase(through, WARMUP, 10, fake, pid);
        await fake.pace(CHUNK_DELAY_MS);
        const idleRss = rssMb(pid);
        const base = await phase(baseline, N, CONCURRENCY, fake, null, RAMP_MS);
        const mine = await phase(through, N, CONCURRENCY, fake, pid, RAMP_MS);
        const b50 = quantile(
          base.samples.map((s) => s.ttft),
          0.5,
        );
        const o50 = quantile(
          mine.samples.map((s) => s.ttft),
          0.5,
        );
        const b95 = quantile(
          base.samples.map((s) => s.ttft),
          0.95,
        );
        const o95 = quantile(
          mine.samples.map((s) => s.ttft),
          0.95,
        );
        const cpuPerChat = mine.serverCpuMs / Math.max(1, mine.samples.length + mine.errors);
        console.log(`\n## ${mode} mode${mode === 'scale' ? ' (PostgreSQL + Redis)' : ' (PGlite)'}`);
        console.log(
          `direct to the fake: ttft p50 ${f2(b50)} p95 ${f2(b95)} ms, chat p50 ${f2(
            quantile(
              base.samples.map((s) => s.total),
              0.5,
            ),
          )} ms, errors ${base.errors}, ${f2((base.samples.length / base.wallMs) * 1000)} chats/s`,
        );
        console.log(
          `through /v1/chat/completions: ttft p50 ${f2(o50)} p95 ${f2(o95)} ms, chat p50 ${f2(
            quantile(
              mine.samples.map((s) => s.total),
              0.5,
            ),
          )} ms, errors ${mine.errors}, ${f2((mine.samples.length / mine.wallMs) * 1000)} chats/s`,
        );
        if (mine.firstError) console.log(`first error: ${mine.firstError}`);
        console.log(
          `added TTFT: median ${f2(o50 - b50)} ms, p95 ${f2(o95 - b95)} ms; server CPU per chat ${f2(cpuPerChat)} ms ` +
            `(${f2(mine.serverCpuMs / mine.wallMs)} cores over the run); fake CPU per chat ${f2(mine.fakeCpuMs / Math.max(1, N))} vs ${f2(base.fakeCpuMs / Math.max(1, N))} ms direct; ` +
            `server RSS idle ${f2(idleRss)} MB, peak ${f2(mine.peakRssMb)} MB`,
        );
        // What the run asked of the machine's cores: the direct run is the floor any relay adds to.
        const cores = (p: Phase) => (p.serverCpuMs + p.fakeCpuMs + p.loadCpuMs) / p.wallMs;
        console.log(
          `CPU over the run (cores busy, of ${availableParallelism()}): direct ${f2(cores(base))} ` +
            `(fake ${f2(base.fakeCpuMs / base.wallMs)}, load generator ${f2(base.loadCpuMs / base.wallMs)}); ` +
            `through us ${f2(cores(mine))} (server ${f2(mine.serverCpuMs / mine.wallMs)}, fake ${f2(mine.fakeCpuMs / mine.wallMs)}, ` +
            `load generator ${f2(mine.loadCpuMs / mine.wallMs)}); load generator CPU per chat ${f2(base.loadCpuMs / Math.max(1, N))} ms direct, ` +
            `${f2(mine.loadCpuMs / Math.max(1, N))} ms through us`,
        );
        const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
        verdicts.push(
          `${pass(o50 - b50 < TARGET_ADDED_TTFT_MS)} ${mode}: added median TTFT ${f2(o50 - b50)} ms < ${TARGET_ADDED_TTFT_MS} ms`,
          `${pass(mine.errors === 0 && base.errors === 0)} ${mode}: no errors (${mine.errors} through us, ${base.errors} direct)`,
        );
      } finally {
        await stopServer(server.child);
        rmSync(storage, { recursive: true, force: true });
      }
    }
    console.log('');
    for (const v of verdicts) console.log(v);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await fake.close();
  }
}
