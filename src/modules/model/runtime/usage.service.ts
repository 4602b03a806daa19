import { safeError } from '@app/common';
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CatalogModel } from '../catalog/catalog.schema';
import { priceOf } from '../catalog/parameters';
import { ModelUsageEntity } from '../entities/model-usage.entity';

export interface UsageInput {
  accountId: string | null;
  model: CatalogModel;
  source: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  status: 'success' | 'error' | 'aborted';
  error?: string | null;
  estimated?: boolean;
}

export interface UsageRecord {
  id: string;
  provider: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  price: number;
  currency: string;
  latency_ms: number;
  status: string;
}

type UsageRow = Pick<
  ModelUsageEntity,
  | 'id'
  | 'created_at'
  | 'account_id'
  | 'provider'
  | 'model'
  | 'model_type'
  | 'source'
  | 'prompt_tokens'
  | 'completion_tokens'
  | 'total_tokens'
  | 'estimated'
  | 'price'
  | 'currency'
  | 'latency_ms'
  | 'status'
  | 'error'
>;

const COLUMNS = [
  'id',
  'created_at',
  'updated_at',
  'account_id',
  'provider',
  'model',
  'model_type',
  'source',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'estimated',
  'price',
  'currency',
  'latency_ms',
  'status',
  'error',
] as const;

const rowValues = (r: UsageRow): unknown[] => [
  r.id,
  r.created_at,
  r.created_at,
  r.account_id,
  r.provider,
  r.model,
  r.model_type,
  r.source,
  r.prompt_tokens,
  r.completion_tokens,
  r.total_tokens,
  r.estimated,
  r.price,
  r.currency,
  r.latency_ms,
  r.status,
  r.error,
];

/**
 * One multi-row INSERT, written by hand: TypeORM's insert builder spent more CPU escaping and
 * naming 200 rows' parameters than the database spent storing them (measured, ~90 us per row).
 */
const insertSqlCache = new Map<number, string>();
function insertSql(rows: number): string {
  let sql = insertSqlCache.get(rows);
  if (!sql) {
    const n = COLUMNS.length;
    const tuples = Array.from(
      { length: rows },
      (_, r) => `(${COLUMNS.map((_c, c) => `$${r * n + c + 1}`).join(', ')})`,
    );
    sql = `INSERT INTO model_usages (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
    insertSqlCache.set(rows, sql);
  }
  return sql;
}

/** Rows per INSERT, and how long a row may wait for its batch. */
const BATCH_ROWS = 200;
const BATCH_DELAY_MS = 1000;
/** Rows kept while the database refuses writes; beyond this the oldest are dropped (logged). */
const MAX_PENDING = 20_000;

/**
 * One usage row per model call (tokens, price from the catalog, latency, outcome). Rows are
 * written in batches, one multi-row INSERT per BATCH_DELAY_MS, off the call's path: an INSERT per
 * call cost more CPU than the rest of the gateway (the embedded PGlite runs on this thread).
 * `record` answers at once with the row as it will be stored (its id is made here); reads of this
 * service flush first, and shutdown flushes what is left.
 */
@Injectable()
export class UsageService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ModelUsage');
  private pending: UsageRow[] = [];
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** Rows that failed a write once (see requeue). */
  private readonly retried = new WeakSet<UsageRow>();

  constructor(
    @InjectRepository(ModelUsageEntity) private readonly usages: Repository<ModelUsageEntity>,
  ) {}

  record(input: UsageInput): Promise<UsageRecord | null> {
    const prompt = Math.max(0, Math.round(input.promptTokens || 0));
    const completion = Math.max(0, Math.round(input.completionTokens || 0));
    const price = priceOf(input.model.pricing, prompt, completion);
    const row: UsageRow = {
      id: randomUUID(),
      created_at: new Date(),
      account_id: input.accountId,
      provider: input.model.provider,
      model: input.model.model_name,
      model_type: input.model.model_type,
      source: input.source.slice(0, 64),
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      estimated: input.estimated ?? false,
      price: price.toFixed(8),
      currency: input.model.pricing.currency,
      latency_ms: Math.max(0, Math.round(input.latencyMs)),
      status: input.status,
      error: input.error?.slice(0, 2000) ?? null,
    };
    this.enqueue([row]);
    return Promise.resolve({
      id: row.id,
      provider: row.provider,
      model: row.model,
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      price,
      currency: row.currency,
      latency_ms: row.latency_ms,
      status: row.status,
    });
  }

  /** Writes every buffered row now (and waits for a write already under way). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    // One write at a time keeps the rows in order and bounds the connections used.
    this.flushing = this.flushing.then(() => this.write(batch));
    await this.flushing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  private enqueue(rows: UsageRow[]): void {
    this.pending.push(...rows);
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.logger.error(`dropped ${dropped.length} usage rows: the database refused them`);
    }
    if (this.pending.length >= BATCH_ROWS) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

  private async write(batch: UsageRow[]): Promise<void> {
    for (let i = 0; i < batch.length; i += BATCH_ROWS) {
      const chunk = batch.slice(i, i + BATCH_ROWS);
      try {
        await this.usages.query(insertSql(chunk.length), chunk.flatMap(rowValues));
      } catch (err) {
        // Accounting must never break the calls it accounts for: keep the rows for a later batch.
        // Logged without driver detail: PostgreSQL quotes the offending values in its messages.
        this.logger.error(`could not record ${chunk.length} usage rows: ${safeError(err).message}`);
        this.requeue(chunk);
      }
    }
  }

  /** Failed rows join the next batch once; a second failure drops them with the error logged. */
  private requeue(rows: UsageRow[]): void {
    const again = rows.filter((r) => !this.retried.has(r));
    for (const r of again) this.retried.add(r);
    if (again.length < rows.length)
      this.logger.error(`dropped ${rows.length - again.length} usage rows after a second failure`);
    if (again.length) this.enqueue(again);
  }

  /** Usage rows of an account, newest first (for statistics and tests). */
  async recent(accountId: string, limit = 20): Promise<ModelUsageEntity[]> {
    await this.flush();
    return this.usages.find({
      where: { account_id: accountId },
      order: { created_at: 'DESC' },
      take: limit,
    });
  }
}
