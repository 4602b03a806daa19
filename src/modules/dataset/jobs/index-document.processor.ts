import { ApiException, safeError } from '@app/common';
import { AppConfig } from '@app/config';
import { JobContext, JobProcessor, Processor, UnrecoverableJobError } from '@app/queue';
import { RealtimeEmitter } from '@app/realtime';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Not, Repository } from 'typeorm';
import { DatasetEntity } from '../entities/dataset.entity';
import { DocumentEntity, type DocumentStatus } from '../entities/document.entity';
import { SegmentEntity } from '../entities/segment.entity';
import { DocumentReader } from '../indexing/document-reader';
import { DocumentParseError, type TextSegment } from '../indexing/pipeline.types';
import { splitText } from '../indexing/splitter';
import { EmbeddingDimensionsError, SegmentIndexer } from '../services/segment-indexer.service';
import { sha256 } from '../services/segment.service';
import { UploadFileService } from '../uploads/upload-file.service';
import { documentBatchRoom } from '../services/document.service';

/** Rows per INSERT (bounded statement size). */
const INSERT_CHUNK = 1000;
/** Progress shares of the steps before embedding; embedding fills the rest. */
const PARSED = 10;
const SPLIT = 20;

/** Failures that another attempt cannot fix: the user must act (file, model, credentials). */
function isPermanent(err: unknown): boolean {
  if (err instanceof DocumentParseError || err instanceof EmbeddingDimensionsError) return true;
  // Our own API errors (no credentials, unknown model, validation) do not heal by retrying.
  return err instanceof ApiException && err.status < 500 && err.status !== 429;
}

/**
 * Indexes one document: parse -> clean -> split -> keywords and embeddings in chunks. The
 * document row records each step (status, timestamps, counts, error) and sockets subscribed to
 * the batch hear `document_status_change`. Re-runs (retries, a restart) keep segments already indexed
 * when the text splits the same way, so nothing is duplicated or done twice.
 */
@Injectable()
@Processor('dataset.index-document')
export class IndexDocumentProcessor implements JobProcessor<'dataset.index-document'> {
  private readonly logger = new Logger('IndexDocument');

  constructor(
    private readonly dataSource: DataSource,
    @InjectRepository(DocumentEntity) private readonly documents: Repository<DocumentEntity>,
    @InjectRepository(SegmentEntity) private readonly segments: Repository<SegmentEntity>,
    @InjectRepository(DatasetEntity) private readonly datasets: Repository<DatasetEntity>,
    private readonly uploads: UploadFileService,
    private readonly indexer: SegmentIndexer,
    private readonly reader: DocumentReader,
    private readonly realtime: RealtimeEmitter,
    private readonly config: AppConfig,
  ) {}

  async process(ctx: JobContext<'dataset.index-document'>): Promise<Record<string, unknown>> {
    const doc = await this.documents.findOneBy({ id: ctx.payload.document_id });
    const dataset = doc ? await this.datasets.findOneBy({ id: doc.dataset_id }) : null;
    if (!doc || !dataset) return { skipped: 'deleted' };
    if (doc.status === 'completed') return { skipped: 'completed' };
    try {
      return await this.run(ctx, doc, dataset);
    } catch (err) {
      if (ctx.signal.aborted) throw err; // cancelled or shutting down: the next run resumes
      const message = this.userMessage(err);
      if (isPermanent(err) || ctx.attempt >= ctx.maxAttempts) {
        await this.step(doc, 'error', 0, { error: message, stopped_at: new Date() });
        throw new UnrecoverableJobError(message);
      }
      throw err;
    }
  }

  private async run(
    ctx: JobContext<'dataset.index-document'>,
    doc: DocumentEntity,
    dataset: DatasetEntity,
  ): Promise<Record<string, unknown>> {
    const { signal } = ctx;
    await this.step(doc, 'parsing', 0, {
      processing_started_at: doc.processing_started_at ?? new Date(),
      error: '',
      stopped_at: null,
    });
    const file = await this.uploads.byId(doc.upload_file_id);
    if (!file)
      throw new DocumentParseError(`The file of "${doc.name}" no longer exists; upload it again`);
    const bytes = await this.uploads.bytes(file);
    // Parsed and cleaned on a reader thread: seconds of CPU for a large PDF or workbook.
    const text = await this.reader.read(
      { bytes, extension: file.extension, name: file.name },
      doc.process_rule,
      { signal, maxChars: this.config.env.DATASET_MAX_DOCUMENT_CHARS },
    );
    if (!text.trim()) throw new DocumentParseError(`"${doc.name}" contains no text to index`);
    await this.step(doc, 'splitting', PARSED, { parsing_completed_at: new Date() });
    await ctx.progress(PARSED, 'parsed');

    signal.throwIfAborted();
    const pieces = await splitText(text, doc.process_rule.segment);
    if (pieces.length === 0)
      throw new DocumentParseError(`"${doc.name}" contains no text to index`);
    const hashes = pieces.map((p) => sha256(p.content));
    const kept = await this.syncSegments(doc, pieces, hashes);
    if (kept === null) return { skipped: 'deleted' };
    await this.step(doc, 'indexing', SPLIT, {
      splitting_completed_at: new Date(),
      character_count: pieces.reduce((n, p) => n + p.content.length, 0),
      token_count: pieces.reduce((n, p) => n + p.token_count, 0),
    });
    await ctx.progress(SPLIT, `${pieces.length} segments`);

    const todo = await this.pending(doc, pieces, hashes);
    let last = 0;
    await this.indexer.index(dataset, todo, {
      accountId: doc.account_id,
      signal,
      onProgress: async (done, total) => {
        const percent = SPLIT + ((kept + done) / (kept + total)) * (100 - SPLIT);
        await ctx.progress(percent, `${kept + done}/${kept + total} segments`);
        // A few socket events a second at most.
        if (Date.now() - last > 250 || done === total) {
          last = Date.now();
          this.emit(doc, 'indexing', percent, null);
        }
      },
    });
    const now = new Date();
    await this.step(doc, 'completed', 100, { indexing_completed_at: now, completed_at: now });
    return { segments: pieces.length, reused: kept };
  }

  /**
   * Writes the split into segment rows. When the document's existing segments hash the same,
   * position by position (a re-run), they stay with their finished work; otherwise they are
   * replaced in one transaction. Returns how many already-completed segments were kept, or null
   * when the document was deleted meanwhile.
   */
  private async syncSegments(
    doc: DocumentEntity,
    pieces: TextSegment[],
    hashes: string[],
  ): Promise<number | null> {
    return this.dataSource.transaction(async (m) => {
      // Holding the document row: a concurrent delete waits, and then its purge job sees our rows.
      const locked = await m.query<unknown[]>('SELECT id FROM documents WHERE id = $1 FOR UPDATE', [
        doc.id,
      ]);
      if (locked.length === 0) return null;
      const existing = await m.query<Array<{ position: number; hash: string; status: string }>>(
        'SELECT position, hash, status FROM segments WHERE document_id = $1 ORDER BY position',
        [doc.id],
      );
      const same =
        existing.length === hashes.length &&
        existing.every((s, i) => s.position === i + 1 && s.hash === hashes[i]);
      if (same) return existing.filter((s) => s.status === 'completed').length;
      await m.query('DELETE FROM segments WHERE document_id = $1', [doc.id]);
      for (let i = 0; i < pieces.length; i += INSERT_CHUNK) {
        const chunk = pieces.slice(i, i + INSERT_CHUNK);
        // Columns as arrays: one short statement instead of a VALUES list built row by row.
        await m.query(
          `INSERT INTO segments (account_id, dataset_id, document_id, position, content, hash,
                                 character_count, token_count, status)
           SELECT $1, $2, $3, v.position, v.content, v.hash, v.character_count, v.token_count, 'waiting'
             FROM unnest($4::int[], $5::text[], $6::text[], $7::int[], $8::int[])
                  AS v(position, content, hash, character_count, token_count)`,
          [
            doc.account_id,
            doc.dataset_id,
            doc.id,
            chunk.map((_, j) => i + j + 1),
            chunk.map((p) => p.content),
            hashes.slice(i, i + INSERT_CHUNK),
            chunk.map((p) => p.content.length),
            chunk.map((p) => p.token_count),
          ],
        );
      }
      return 0;
    });
  }

  /**
   * The document's segments not indexed yet, in order. Their text is the split's (the rows were
   * written from it, or hash the same), so it is not read back; a segment edited meanwhile
   * (another hash) is read from its row.
   */
  private async pending(
    doc: DocumentEntity,
    pieces: TextSegment[],
    hashes: string[],
  ): Promise<Array<{ id: string; content: string }>> {
    const rows = await this.segments.find({
      select: { id: true, position: true, hash: true },
      where: { document_id: doc.id, status: Not('completed') },
      order: { position: 'ASC' },
    });
    const edited = rows.filter((r) => hashes[r.position - 1] !== r.hash).map((r) => r.id);
    const contents = new Map<string, string>();
    if (edited.length) {
      const found = await this.segments.find({
        select: { id: true, content: true },
        where: { id: In(edited) },
      });
      for (const r of found) contents.set(r.id, r.content);
    }
    return rows
      .filter((r) => contents.has(r.id) || hashes[r.position - 1] === r.hash)
      .map((r) => ({ id: r.id, content: contents.get(r.id) ?? pieces[r.position - 1].content }));
  }

  private async step(
    doc: DocumentEntity,
    status: DocumentStatus,
    progress: number,
    fields: Partial<DocumentEntity>,
  ): Promise<void> {
    await this.documents.update({ id: doc.id }, { status, ...fields });
    Object.assign(doc, { status, ...fields });
    this.emit(doc, status, progress, status === 'error' ? (fields.error ?? doc.error) : null);
  }

  private emit(doc: DocumentEntity, status: string, progress: number, error: string | null): void {
    // Only to the batch's room (`subscribe_document_batch`), as CONTRACT says of every resource.
    this.realtime.toRoom(documentBatchRoom(doc.dataset_id, doc.batch), 'document_status_change', {
      document_id: doc.id,
      status,
      progress: Math.round(progress * 100) / 100,
      error,
    });
  }

  /** What the user reads in the document's `error`. */
  private userMessage(err: unknown): string {
    if (err instanceof DocumentParseError || err instanceof ApiException)
      return err.message.slice(0, 2000);
    this.logger.warn({ err: safeError(err) }, 'Indexing failed');
    const reason = err instanceof Error ? err.message : String(err);
    return `Indexing failed: ${reason}`.slice(0, 2000);
  }
}
