import { JobContext, JobProcessor, Processor, UnrecoverableJobError } from '@app/queue';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { UploadFileService } from '../uploads/upload-file.service';

/** Rows per DELETE: keeps each statement (and PGlite's single connection) short. */
const BATCH = 5000;
/** Uploads per DELETE of the clean-up: each one also removes a file. */
const CLEAN_BATCH = 500;

async function deleteInBatches(
  dataSource: DataSource,
  sql: string,
  params: unknown[],
  signal: AbortSignal,
): Promise<number> {
  let total = 0;
  for (;;) {
    signal.throwIfAborted();
    const res = await dataSource.query<[unknown[], number]>(sql, [...params, BATCH]);
    const n = Array.isArray(res) && typeof res[1] === 'number' ? res[1] : 0;
    total += n;
    if (n < BATCH) return total;
  }
}

/** What a deleted dataset leaves: documents, segments (vectors), files nobody else uses, queries. */
@Injectable()
@Processor('dataset.purge-dataset')
export class PurgeDatasetProcessor implements JobProcessor<'dataset.purge-dataset'> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uploads: UploadFileService,
  ) {}

  async process(ctx: JobContext<'dataset.purge-dataset'>): Promise<Record<string, number>> {
    const id = ctx.payload.dataset_id;
    const docs = await this.dataSource.query<Array<{ upload_file_id: string }>>(
      'SELECT DISTINCT upload_file_id FROM documents WHERE dataset_id = $1',
      [id],
    );
    // Documents first: an indexing job writes its segments under its document's row lock and
    // writes none once the row is gone, so no segment can appear after the sweep below.
    const documents = await deleteInBatches(
      this.dataSource,
      'DELETE FROM documents WHERE id IN (SELECT id FROM documents WHERE dataset_id = $1 LIMIT $2)',
      [id],
      ctx.signal,
    );
    await ctx.progress(40);
    const segments = await deleteInBatches(
      this.dataSource,
      'DELETE FROM segments WHERE id IN (SELECT id FROM segments WHERE dataset_id = $1 LIMIT $2)',
      [id],
      ctx.signal,
    );
    let files = 0;
    for (const d of docs) if (await this.uploads.deleteIfUnused(d.upload_file_id)) files++;
    const queries = await deleteInBatches(
      this.dataSource,
      'DELETE FROM dataset_queries WHERE id IN (SELECT id FROM dataset_queries WHERE dataset_id = $1 LIMIT $2)',
      [id],
      ctx.signal,
    );
    await ctx.progress(100);
    return { segments, documents, files, queries };
  }
}

/** What a deleted document leaves: its segments (vectors) and its file when nobody else uses it. */
@Injectable()
@Processor('dataset.purge-document')
export class PurgeDocumentProcessor implements JobProcessor<'dataset.purge-document'> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uploads: UploadFileService,
  ) {}

  async process(ctx: JobContext<'dataset.purge-document'>): Promise<Record<string, number>> {
    const segments = await deleteInBatches(
      this.dataSource,
      'DELETE FROM segments WHERE id IN (SELECT id FROM segments WHERE document_id = $1 LIMIT $2)',
      [ctx.payload.document_id],
      ctx.signal,
    );
    const files = (await this.uploads.deleteIfUnused(ctx.payload.upload_file_id)) ? 1 : 0;
    await ctx.progress(100);
    return { segments, files };
  }
}

/**
 * Document uploads nobody added to a dataset (or whose document is gone), older than
 * `older_than_hours`: they count against the account's quota and would stay for ever.
 */
@Injectable()
@Processor('dataset.clean-uploads')
export class CleanUploadsProcessor implements JobProcessor<'dataset.clean-uploads'> {
  constructor(private readonly uploads: UploadFileService) {}

  async process(ctx: JobContext<'dataset.clean-uploads'>): Promise<{ files: number }> {
    const hours = ctx.payload.older_than_hours;
    if (!(hours >= 0)) throw new UnrecoverableJobError('older_than_hours must be at least 0');
    const before = new Date(Date.now() - hours * 3_600_000);
    let files = 0;
    for (;;) {
      ctx.signal.throwIfAborted();
      const n = await this.uploads.deleteUnattached(before, CLEAN_BATCH);
      files += n;
      if (n < CLEAN_BATCH) break;
    }
    await ctx.progress(100);
    return { files };
  }
}
