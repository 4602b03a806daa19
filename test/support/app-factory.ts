import { EnvelopeExpressAdapter } from '@app/common';
import { AppConfig, parseEnv } from '@app/config';
import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/bootstrap/configure-app';
import { AccountService } from 'src/modules/auth/services/account.service';
import { SessionService } from 'src/modules/auth/services/session.service';
import { TEST_REDIS_URL, uniqueRedisPrefix, workerDatabaseUrl } from './test-env';

export interface TestAppOptions {
  /** Environment overrides (strings, as in process.env). */
  env?: Record<string, string | undefined>;
  /** Use Redis (BullMQ, Redis adapter, Redis throttling): scale mode. */
  redis?: boolean;
  /** Reuse a Redis prefix (to restart "the same" deployment). */
  redisPrefix?: string;
  /** Scale mode against this Redis instead of the shared test Redis (a test's own server). */
  redisUrl?: string;
  /** Extra modules (test fixtures) imported next to AppModule. */
  imports?: Array<Type<unknown> | DynamicModule>;
  /** Skip app.listen (worker-only contexts). Default: listen on 127.0.0.1:0. */
  listen?: boolean;
  /** Receives the app's log lines (JSON) instead of stdout; set LOG_LEVEL in `env` too. */
  logStream?: DestinationStream;
}

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  /** http://127.0.0.1:<port> */
  url: string;
  http: () => ReturnType<typeof request>;
  /**
   * A real access token (with a live session) for `accountId`, as the auth module issues it; the
   * account is created when missing (role `member`) and given `role` when one is passed.
   */
  token(accountId: string, role?: 'admin' | 'member'): Promise<string>;
  close(): Promise<void>;
}

/** Boots the real AppModule against this worker's database, exactly as main.ts configures it. */
export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const storage = mkdtempSync(path.join(tmpdir(), 'llmops-test-'));
  const env = parseEnv({
    NODE_ENV: 'test',
    STORAGE_DIR: storage,
    DATABASE_URL: workerDatabaseUrl(),
    DATABASE_POOL_MAX: '4',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    CORS_ORIGINS: 'http://console.test',
    SHUTDOWN_TIMEOUT_MS: '2000',
    // Scale mode (DATABASE_URL) requires configured secrets.
    JWT_SECRET: 'test-jwt-secret-0123456789abcdef',
    ENCRYPTION_KEY: 'test-encryption-key-0123456789abcdef',
    ...(opts.redis || opts.redisUrl
      ? {
          REDIS_URL: opts.redisUrl ?? TEST_REDIS_URL,
          REDIS_PREFIX: opts.redisPrefix ?? uniqueRedisPrefix(),
        }
      : {}),
    ...opts.env,
  });
  const config = new AppConfig(env);
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(config, { logStream: opts.logStream }), ...(opts.imports ?? [])],
  }).compile();
  const listen = opts.listen ?? config.hasRole('api');
  let app: INestApplication;
  if (config.hasRole('api')) {
    const http = moduleRef.createNestApplication<NestExpressApplication>(
      new EnvelopeExpressAdapter(),
      { bodyParser: false, bufferLogs: true },
    );
    configureApp(http, config);
    app = http;
  } else {
    app = moduleRef.createNestApplication({ bufferLogs: true });
  }
  if (listen) await app.listen(0, '127.0.0.1');
  else await app.init();
  const address = listen ? (app.getHttpServer().address() as { port: number }) : { port: 0 };
  const url = `http://127.0.0.1:${address.port}`;
  const sessions = app.get(SessionService);
  return {
    app,
    config,
    url,
    http: () => request(url),
    token: async (accountId, role) => {
      // Tokens are only honoured for existing accounts, with the account's role: create the
      // account when missing, and give it `role` when one is asked for.
      const [row] = await app.get(DataSource).query<Array<{ role: 'admin' | 'member' }>>(
        `INSERT INTO accounts (id, email, name, role) VALUES ($1::uuid, $1::text || '@token.test', 'Test', coalesce($2::varchar, 'member'))
         ON CONFLICT (id) DO UPDATE SET role = coalesce($2::varchar, accounts.role) RETURNING role`,
        [accountId, role ?? null],
      );
      // Written past AccountService: drop what any process caches about the account.
      await app.get(AccountService).forget(accountId);
      return (await sessions.start(accountId, row.role, { ip: '127.0.0.1', userAgent: 'jest' }))
        .access_token;
    },
    close: async () => {
      await app.close();
      rmSync(storage, { recursive: true, force: true });
    },
  };
}
