import { createTestApp, TestApp } from '@test/support/app-factory';
import { workerDatabaseUrl } from '@test/support/test-env';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { getRepositoryToken } from '@nestjs/typeorm';
import { Logger } from '@nestjs/common';
import { QueryFailedError, Repository } from 'typeorm';
import { ModelUsageEntity } from 'src/modules/model/entities/model-usage.entity';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { UsageService } from 'src/modules/model/runtime/usage.service';

/** Usage rows are written in batches off the call's path; none may be lost. */
describe('usage rows', () => {
  let t: TestApp;
  let db: Client;
  beforeAll(async () => {
    t = await createTestApp();
    db = new Client({ connectionString: workerDatabaseUrl() });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t?.close();
  });

  const count = async (accountId: string): Promise<number> =>
    (
      await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM model_usages WHERE account_id = $1',
        [accountId],
      )
    ).rows[0].n;

  const input = (accountId: string, i = 0) => ({
    accountId,
    model: t.app.get(ModelCatalog).model('openai', 'gpt-4o-mini'),
    source: 'test.usage',
    promptTokens: 100 + i,
    completionTokens: 10,
    latencyMs: 5,
    status: 'success' as const,
  });

  it('answers at once with the row it will store, and stores it with the next batch', async () => {
    const usage = t.app.get(UsageService);
    const accountId = randomUUID();
    const rec = await usage.record(input(accountId));
    expect(rec).toMatchObject({ prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 });
    expect(rec!.price).toBeGreaterThan(0);
    expect(await count(accountId)).toBe(0); // not written on the call's path
    await usage.flush();
    const { rows } = await db.query('SELECT * FROM model_usages WHERE id = $1', [rec!.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ account_id: accountId, total_tokens: 110, status: 'success' });
  });

  it('writes many concurrent calls in a few multi-row INSERTs', async () => {
    const usage = t.app.get(UsageService);
    const accountId = randomUUID();
    const repo = t.app.get<Repository<ModelUsageEntity>>(getRepositoryToken(ModelUsageEntity));
    const inserts = jest.spyOn(repo, 'query');
    await Promise.all(Array.from({ length: 450 }, (_, i) => usage.record(input(accountId, i))));
    await usage.flush();
    expect(await count(accountId)).toBe(450);
    const tokens = await db.query<{ s: number }>(
      'SELECT sum(prompt_tokens)::int AS s FROM model_usages WHERE account_id = $1',
      [accountId],
    );
    expect(tokens.rows[0].s).toBe(450 * 100 + (449 * 450) / 2);
    // 450 rows, at most 200 per INSERT: three statements, not 450.
    expect(inserts.mock.calls.length).toBeLessThanOrEqual(3);
    inserts.mockRestore();
  });

  it('keeps rows a failed write refused for the next batch, and logs no query values', async () => {
    const usage = t.app.get(UsageService);
    const repo = t.app.get<Repository<ModelUsageEntity>>(getRepositoryToken(ModelUsageEntity));
    const accountId = randomUUID();
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const query = jest.spyOn(repo, 'query').mockRejectedValueOnce(
      new QueryFailedError('INSERT INTO model_usages …', [accountId], {
        message: `invalid input value "${accountId}"`,
        code: '22P02',
      } as unknown as Error),
    );
    await usage.record(input(accountId));
    await usage.flush(); // refused: kept
    expect(await count(accountId)).toBe(0);
    await usage.flush(); // written
    expect(await count(accountId)).toBe(1);
    const logged = JSON.stringify(errors.mock.calls);
    expect(logged).toMatch(/could not record 1 usage rows: Database query failed/);
    expect(logged).not.toContain(accountId);
    query.mockRestore();
    errors.mockRestore();
  });

  it('writes what is still buffered when the app shuts down', async () => {
    const other = await createTestApp();
    const accountId = randomUUID();
    await other.app.get(UsageService).record(input(accountId));
    await other.close();
    expect(await count(accountId)).toBe(1);
  });
});
