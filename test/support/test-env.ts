/** Where the test services live; override with TEST_DATABASE_URL / TEST_REDIS_URL. */
export const ADMIN_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Set by the global setup and inherited by every jest worker. */
export function runId(): string {
  const id = process.env.LLMOPS_TEST_RUN_ID;
  if (!id)
    throw new Error('LLMOPS_TEST_RUN_ID is not set: run the e2e tests through jest (npm test)');
  return id;
}

export function workerId(): number {
  return Number(process.env.JEST_WORKER_ID ?? '1');
}

export const templateDatabaseName = (run: string): string => `llmops_test_${run}_tpl`;
export const workerDatabaseName = (run: string, worker: number): string =>
  `llmops_test_${run}_w${worker}`;

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** This worker's migrated database (cloned from the template by the global setup). */
export function workerDatabaseUrl(): string {
  return databaseUrl(workerDatabaseName(runId(), workerId()));
}

let prefixCounter = 0;
/** A Redis key prefix no other worker, file or app instance uses. */
export function uniqueRedisPrefix(label = 'app'): string {
  prefixCounter += 1;
  return `llmops-test:${runId()}:w${workerId()}:${label}${prefixCounter}:${process.pid}`;
}
