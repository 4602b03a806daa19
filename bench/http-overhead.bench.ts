import { AppConfig, parseEnv } from '@app/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'undici';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/bootstrap/configure-app';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

/** Fires REQUESTS GETs with CONCURRENCY in flight; returns requests/second and p50/p99 latency. */
async function load(
  origin: string,
  pathname: string,
): Promise<{ rps: number; p50: number; p99: number }> {
  const pool = new Pool(origin, { connections: CONCURRENCY });
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      next += 1;
      const t0 = performance.now();
      const res = await pool.request({ method: 'GET', path: pathname });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${pathname} answered ${res.statusCode}`);
      latencies.push(performance.now() - t0);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - start) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    rps: REQUESTS / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
  };
}

/**
 * The cost of our HTTP stack (helmet, CORS, pino request logs, throttler, validation, envelope,
 * metrics) on GET /ping, against a bare node:http server answering the same JSON.
 */
export async function run(): Promise<void> {
  const bare: Server = createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end('{"code":"success","message":"","data":{"ping":"pong"}}');
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const barePort = (bare.address() as { port: number }).port;

  const storage = mkdtempSync(path.join(tmpdir(), 'llmops-bench-'));
  const config = new AppConfig(
    parseEnv({
      STORAGE_DIR: storage,
      LOG_LEVEL: 'silent',
      THROTTLE_LIMIT: '1000000',
      NODE_ENV: 'test',
    }),
  );
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: false,
  });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const appPort = (app.getHttpServer().address() as { port: number }).port;

  await load(`http://127.0.0.1:${barePort}`, '/'); // warm-up
  await load(`http://127.0.0.1:${appPort}`, '/ping');
  const base = await load(`http://127.0.0.1:${barePort}`, '/');
  const ours = await load(`http://127.0.0.1:${appPort}`, '/ping');

  const fmt = (n: number) => n.toFixed(2);
  console.log(`requests=${REQUESTS} concurrency=${CONCURRENCY}`);
  console.log(
    `baseline node:http   ${Math.round(base.rps)} req/s  p50 ${fmt(base.p50)} ms  p99 ${fmt(base.p99)} ms`,
  );
  console.log(
    `llmops GET /ping     ${Math.round(ours.rps)} req/s  p50 ${fmt(ours.p50)} ms  p99 ${fmt(ours.p99)} ms`,
  );
  console.log(`ratio (llmops/baseline throughput): ${(ours.rps / base.rps).toFixed(3)}`);

  await app.close();
  await new Promise<void>((r) => bare.close(() => r()));
  rmSync(storage, { recursive: true, force: true });
}
