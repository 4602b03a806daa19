import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import PQueue from 'p-queue';
import { ModelRef, ModelRuntime, RuntimeContext } from './model-runtime.service';
import { UsageService } from './usage.service';

export interface EmbedOptions extends RuntimeContext {
  signal?: AbortSignal;
  /** Called after each batch with the number of texts embedded so far. */
  onProgress?: (done: number, total: number) => void;
  batchSize?: number;
}

/**
 * Some integrations answer a failed request with empty vectors instead of an error (LangChain's
 * Gemini embeddings): never let those reach an index.
 */
function checkVectors(vectors: number[][], expected: number): number[][] {
  if (vectors.length !== expected) {
    throw new Error(`The embedding model returned ${vectors.length} vectors for ${expected} texts`);
  }
  const dims = vectors[0]?.length ?? 0;
  if (!dims || vectors.some((v) => v.length !== dims || v.some((x) => !Number.isFinite(x)))) {
    throw new Error('The embedding model returned empty or malformed vectors');
  }
  return vectors;
}

/** Rough token estimate where providers report none through LangChain (about 4 chars a token). */
const estimateTokens = (texts: string[]) => texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);

/**
 * Embeddings for indexing: texts split into batches, a bounded number of requests in flight and
 * an optional requests-per-minute limit per provider (shared by every caller in the process),
 * order preserved, progress reported, abortable, usage recorded per batch.
 */
@Injectable()
export class EmbeddingService {
  private readonly queues = new Map<string, PQueue>();

  constructor(
    private readonly config: AppConfig,
    private readonly runtime: ModelRuntime,
    private readonly usage: UsageService,
  ) {}

  async embedDocuments(
    ref: Omit<ModelRef, 'parameters'>,
    texts: string[],
    opts: EmbedOptions,
  ): Promise<number[][]> {
    if (!texts.length) return [];
    const { embeddings, catalog } = await this.runtime.embeddings(ref, opts);
    const size = opts.batchSize ?? this.config.env.EMBEDDING_BATCH_SIZE;
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += size) batches.push(texts.slice(i, i + size));
    const queue = this.queueFor(ref.provider);
    const results: number[][][] = new Array<number[][]>(batches.length);
    let done = 0;
    await Promise.all(
      batches.map((batch, index) =>
        queue.add(async () => {
          opts.signal?.throwIfAborted();
          const started = performance.now();
          try {
            results[index] = checkVectors(await embeddings.embedDocuments(batch), batch.length);
          } catch (err) {
            await this.usage.record({
              accountId: opts.accountId,
              model: catalog,
              source: opts.source,
              promptTokens: 0,
              completionTokens: 0,
              latencyMs: performance.now() - started,
              status: opts.signal?.aborted ? 'aborted' : 'error',
              error: err instanceof Error ? err.message : String(err),
            });
            throw err;
          }
          await this.usage.record({
            accountId: opts.accountId,
            model: catalog,
            source: opts.source,
            promptTokens: estimateTokens(batch),
            completionTokens: 0,
            latencyMs: performance.now() - started,
            status: 'success',
            estimated: true,
          });
          done += batch.length;
          opts.onProgress?.(done, texts.length);
        }),
      ),
    );
    return results.flat();
  }

  async embedQuery(
    ref: Omit<ModelRef, 'parameters'>,
    text: string,
    ctx: RuntimeContext,
  ): Promise<number[]> {
    const [vector] = await this.embedDocuments(ref, [text], ctx);
    return vector;
  }

  private queueFor(provider: string): PQueue {
    let queue = this.queues.get(provider);
    if (!queue) {
      const rpm = this.config.env.EMBEDDING_REQUESTS_PER_MINUTE;
      queue = new PQueue({
        concurrency: this.config.env.EMBEDDING_CONCURRENCY,
        ...(rpm > 0 ? { intervalCap: rpm, interval: 60_000, carryoverConcurrencyCount: true } : {}),
      });
      this.queues.set(provider, queue);
    }
    return queue;
  }
}
