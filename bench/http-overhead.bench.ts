import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';

/** Seconds of load per measurement, and connections (the issue measured with 10). */
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
/** Measurements per target, taken in turns; each figure printed is the median round. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET_ORDER = ['express', 'embedded', 'scale'] as const;
const ADMIN_DATABASE_URL =
  process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Targets of issue 5: authenticated GET against bare Express, and embedded idle memory. */
const TARGETS = { scale: 0.3, embedded: 0.15, embeddedRssMb: 300 };

type Target = 'express' | 'embedded' | 'scale';

interface Running {
  child: ChildProcess;
  url: string;
}

const ROOT = path.join(__dirname, '..');
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');

/**
 * The baseline: bare Express answering the same JSON, in plain JavaScript (no TypeScript loader
 * inflating its memory). It checks the Authorization header on /account, the least a server does.
 */
const EXPRESS_SERVER = `
const app = require('express')();
const account = { id: '00000000-0000-4000-8000-000000000000', name: 'Bench',
  email: 'bench@example.test', avatar: '', last_login_at: 0, last_login_ip: '127.0.0.1', created_at: 0 };
app.get('/ping', (req, res) => res.json({ code: 'success', message: '', data: { ping: 'pong' } }));
app.get('/account', (req, res) => req.headers.authorization
  ? res.json({ code: 'success', message: '', data: account }) : res.status(401).end());
app.listen(Number(process.env.PORT), '127.0.0.1');
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Starts a server in its own process: bare Express, or LLMOps as production runs it (dist/main.js). */
async function start(target: Target, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const args = target === 'express' ? ['-e', EXPRESS_SERVER] : [path.join(ROOT, 'dist', 'main.js')];
  const child = spawn(NODE, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${target} server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${target} server did not start within 60 s`);
    const ok = await fetch(`${url}/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url };
    await sleep(100);
  }
}

/** Resident memory of the server process, from /proc. */
function rssMb(r: Running): number {
  const status = readFileSync(`/proc/${r.child.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** A signed-in account's token: registered over HTTP like any client. */
async function signIn(url: string): Promise<string> {
  const res = await fetch(`${url}/account/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `bench-${randomBytes(4).toString('hex')}@example.test`,
      password: 'bench-passw0rd',
      name: 'Bench',
    }),
  });
  const body = (await res.json()) as {
    code: string;
    message: string;
    data: { access_token?: string };
  };
  if (!body.data.access_token) throw new Error(`register failed: ${body.code} ${body.message}`);
  return body.data.access_token;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
}

async function load(url: string, headers: Record<string, string> = {}): Promise<Load> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${url}: ${bad} failed requests`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** Warm-up: JIT, pools and caches, as a server that has been running a while. */
async function warmUp(r: Running, token: string | undefined): Promise<void> {
  await autocannon({
    url: `${r.url}/account`,
    connections: CONNECTIONS,
    duration: 1,
    headers: { authorization: `Bearer ${token ?? 'bench'}` },
  });
}

async function measure(
  r: Running,
  token: string | undefined,
): Promise<{ ping: Load; account: Load }> {
  const ping = await load(`${r.url}/ping`);
  const account = await load(`${r.url}/account`, {
    authorization: `Bearer ${token ?? 'bench'}`,
  });
  return { ping, account };
}

const fmt = (l: Load) =>
  `${String(Math.round(l.rps)).padStart(6)} req/s  p50 ${l.p50} ms  p99 ${l.p99} ms`;

/** The round with the median throughput (its latencies come with it). */
function median(loads: Load[]): Load {
  const sorted = [...loads].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Cost per request of the whole HTTP stack (helmet, CORS, request logs, throttler, guard with the
 * session check, validation, envelope, metrics): GET /ping and authenticated GET /account, in the
 * embedded and the scale mode, against bare Express answering the same JSON. Every server runs in
 * its own process; autocannon loads it from this one, in turns (median of ROUNDS rounds). Also
 * prints each server's idle RSS.
 */
export async function run(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) {
    throw new Error('http-overhead runs the built server: npm run build first');
  }
  const storage = mkdtempSync(path.join(tmpdir(), 'llmops-bench-'));
  const dbName = `llmops_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(ADMIN_DATABASE_URL);
  dbUrl.pathname = `/${dbName}`;
  try {
    console.log(`duration=${DURATION}s connections=${CONNECTIONS} (autocannon, separate process)`);
    const results: Record<Target, { ping: Load; account: Load; rss: number }> = {} as never;
    const common = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      THROTTLE_LIMIT: '1000000',
      API_KEY_THROTTLE_LIMIT: '0',
      JWT_SECRET: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      CORS_ORIGINS: 'http://bench.test',
      STORAGE_DIR: storage,
      DATABASE_URL: '',
      REDIS_URL: '',
    };
    const envs: Record<Target, Record<string, string>> = {
      express: {},
      embedded: common,
      scale: {
        ...common,
        DATABASE_URL: dbUrl.toString(),
        REDIS_URL,
        REDIS_PREFIX: `llmops-bench-${randomBytes(4).toString('hex')}`,
      },
    };
    // The first embedded boot creates the database (initdb and migrations leave their memory
    // behind in that process); idle memory is what a restarted server holds.
    const first = await start('embedded', envs.embedded);
    await sleep(3000);
    const firstBootRss = rssMb(first);
    await stop(first);
    // All three servers run side by side and are loaded in turns, ROUNDS times, each figure being
    // the median of its rounds: a burst of load from elsewhere on the machine then skews one round
    // of every target alike instead of one target's only measurement.
    const servers = {} as Record<Target, Running>;
    try {
      for (const target of TARGET_ORDER) servers[target] = await start(target, envs[target]);
      await sleep(3000); // let boot-time work (migrations, timers) settle before measuring RSS
      const rss = {} as Record<Target, number>;
      for (const target of TARGET_ORDER) rss[target] = rssMb(servers[target]);
      const tokens = {} as Record<Target, string | undefined>;
      for (const target of TARGET_ORDER) {
        tokens[target] = target === 'express' ? undefined : await signIn(servers[target].url);
        await warmUp(servers[target], tokens[target]);
      }
      const rounds: Record<Target, { ping: Load; account: Load }[]> = {
        express: [],
        embedded: [],
        scale: [],
      };
      for (let round = 1; round <= ROUNDS; round++) {
        const line: string[] = [];
        for (const target of TARGET_ORDER) {
          const m = await measure(servers[target], tokens[target]);
          rounds[target].push(m);
          line.push(`${target} ${Math.round(m.ping.rps)}/${Math.round(m.account.rps)}`);
        }
        console.log(`round ${round} (req/s GET /ping / GET /account): ${line.join(', ')}`);
      }
      for (const target of TARGET_ORDER) {
        const m = {
          ping: median(rounds[target].map((r) => r.ping)),
          account: median(rounds[target].map((r) => r.account)),
        };
        results[target] = { ...m, rss: rss[target] };
        console.log(`${target.padEnd(8)} GET /ping     ${fmt(m.ping)}`);
        console.log(
          `${target.padEnd(8)} GET /account  ${fmt(m.account)}  idle RSS ${rss[target].toFixed(0)} MB`,
        );
      }
    } finally {
      for (const r of Object.values(servers)) await stop(r);
    }
    const base = results.express;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    for (const mode of ['scale', 'embedded'] as const) {
      const ping = results[mode].ping.rps / base.ping.rps;
      const account = results[mode].account.rps / base.account.rps;
      console.log(
        `ratio ${mode} / express: GET /ping ${ping.toFixed(3)}, authenticated GET /account ${account.toFixed(3)} (target >= ${TARGETS[mode]}: ${verdict(account >= TARGETS[mode])})`,
      );
    }
    const rss = results.embedded.rss;
    console.log(
      `embedded idle RSS ${rss.toFixed(0)} MB after a restart (target < ${TARGETS.embeddedRssMb}: ${verdict(rss < TARGETS.embeddedRssMb)}; ${firstBootRss.toFixed(0)} MB in the boot that created the database); scale ${results.scale.rss.toFixed(0)} MB; express ${base.rss.toFixed(0)} MB`,
    );
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    rmSync(storage, { recursive: true, force: true });
  }
}
