import {
  escapeLike,
  FailException,
  NotFoundError,
  Page,
  paginate,
  toUnix,
  ValidateError,
} from '@app/common';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { Repository } from 'typeorm';
import type {
  ListSegmentsDto,
  SegmentBodyDto,
  SegmentDetailDto,
  SegmentDto,
} from '../dto/segment.dto';
import type { DocumentEntity } from '../entities/document.entity';
import { SegmentEntity } from '../entities/segment.entity';
import { extractKeywords } from '../indexing/keywords';
import { countTokens } from '../indexing/splitter';
import { DatasetService } from './dataset.service';
import { DocumentService } from './document.service';
import { setEnabledFlag } from './enabled-flag';
import { SegmentIndexer } from './segment-indexer.service';

export const MAX_SEGMENT_TOKENS = 1000;

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Segments of a document: listing, and hand edits that are re-keyworded and re-embedded at once. */
@Injectable()
export class SegmentService {
  constructor(
    @InjectRepository(SegmentEntity) private readonly segments: Repository<SegmentEntity>,
    private readonly datasets: DatasetService,
    private readonly documents: DocumentService,
    private readonly indexer: SegmentIndexer,
  ) {}

  async list(
    accountId: string,
    datasetId: string,
    documentId: string,
    q: ListSegmentsDto,
  ): Promise<Page<SegmentDto>> {
    await this.documents.entity(accountId, datasetId, documentId);
    const qb = this.segments
      .createQueryBuilder('s')
      .where('s.account_id = :accountId AND s.document_id = :documentId', { accountId, documentId })
      .orderBy('s.position', 'ASC');
    if (q.search_word) qb.andWhere('s.content ILIKE :w', { w: `%${escapeLike(q.search_word)}%` });
    return paginate(qb, q, (s) => this.toDto(s));
  }

  async get(
    accountId: string,
    datasetId: string,
    documentId: string,
    id: string,
  ): Promise<SegmentDetailDto> {
    return this.detail(await this.entity(accountId, datasetId, documentId, id));
  }

  async create(
    accountId: string,
    datasetId: string,
    documentId: string,
    body: SegmentBodyDto,
  ): Promise<SegmentDetailDto> {
    const doc = await this.documents.entity(accountId, datasetId, documentId);
    if (doc.status !== 'completed')
      throw new FailException('Segments can be added only to a document that finished indexing');
    const { content, tokens, keywords } = this.prepare(body);
    const dataset = await this.datasets.entity(accountId, datasetId);
    const row = await this.segments.manager.transaction(async (m) => {
      // Positions are per document; the document row lock serializes concurrent additions.
      const locked = await m.query<unknown[]>('SELECT id FROM documents WHERE id = $1 FOR UPDATE', [
        doc.id,
      ]);
      if (!locked.length) throw new NotFoundError('The document does not exist');
      const [{ max }] = await m.query<Array<{ max: number }>>(
        'SELECT COALESCE(MAX(position), 0) AS max FROM segments WHERE document_id = $1',
        [doc.id],
      );
      return m.save(
        m.create(SegmentEntity, {
          account_id: accountId,
          dataset_id: datasetId,
          document_id: doc.id,
          position: Number(max) + 1,
          content,
          hash: sha256(content),
          keywords,
          character_count: content.length,
          token_count: tokens,
          status: 'indexing',
        }),
      );
    });
    await this.reindex(accountId, dataset.id, row, content, keywords);
    await this.refreshDocumentCounts(doc.id);
    return this.detail(await this.entity(accountId, datasetId, documentId, row.id));
  }

  async update(
    accountId: string,
    datasetId: string,
    documentId: string,
    id: string,
    body: SegmentBodyDto,
  ): Promise<SegmentDetailDto> {
    const { doc, seg } = await this.entityOf(accountId, datasetId, documentId, id);
    // A re-run of the document's indexing (retry, restart) rebuilds its segments from the file.
    if (doc.status !== 'completed')
      throw new FailException('Segments can be edited once their document finished indexing');
    if (seg.status !== 'completed')
      throw new FailException('Only a segment that finished indexing can be edited');
    const { content, tokens, keywords } = this.prepare(body);
    const res = await this.segments.update(
      { id: seg.id, status: 'completed' },
      {
        content,
        hash: sha256(content),
        keywords,
        character_count: content.length,
        token_count: tokens,
        status: 'indexing',
      },
    );
    if (!res.affected)
      throw new FailException('The segment is being changed by another request; try again');
    await this.reindex(accountId, datasetId, seg, content, keywords);
    await this.refreshDocumentCounts(documentId);
    return this.detail(await this.entity(accountId, datasetId, documentId, id));
  }

  async setEnabled(
    accountId: string,
    datasetId: string,
    documentId: string,
    id: string,
    enabled: boolean,
  ): Promise<void> {
    const seg = await this.entity(accountId, datasetId, documentId, id);
    await setEnabledFlag(this.segments, seg, enabled, 'segment');
  }

  async delete(
    accountId: string,
    datasetId: string,
    documentId: string,
    id: string,
  ): Promise<void> {
    const { doc, seg } = await this.entityOf(accountId, datasetId, documentId, id);
    if (doc.status !== 'completed' && doc.status !== 'error')
      throw new FailException('Segments can be deleted once their document finished indexing');
    if (seg.status !== 'completed' && seg.status !== 'error')
      throw new FailException('A segment can be deleted once it finished indexing or failed');
    await this.segments.delete({ id: seg.id, account_id: accountId });
    await this.refreshDocumentCounts(documentId);
  }

  private async entity(
    accountId: string,
    datasetId: string,
    documentId: string,
    id: string,
  ): Promise<SegmentEntity> {
    return (await this.entityOf(accountId, datasetId, documentId, id)).seg;
  }

  private async entityOf(
    accountId: string,
    datasetId: string,
    documentId: string,
    id: string,
  ): Promise<{ doc: DocumentEntity; seg: SegmentEntity }> {
    const doc = await this.documents.entity(accountId, datasetId, documentId);
    const seg = await this.segments.findOneBy({
      id,
      document_id: documentId,
      account_id: accountId,
    });
    if (!seg) throw new NotFoundError('The segment does not exist');
    return { doc, seg };
  }

  private prepare(body: SegmentBodyDto): { content: string; tokens: number; keywords: string[] } {
    const content = body.content.trim();
    if (!content) throw new ValidateError({ content: ['content is required'] });
    const tokens = countTokens(content);
    if (tokens > MAX_SEGMENT_TOKENS)
      throw new ValidateError({
        content: [`content must be at most ${MAX_SEGMENT_TOKENS} tokens (it has ${tokens})`],
      });
    const keywords = body.keywords?.length ? body.keywords : extractKeywords(content, 10);
    return { content, tokens, keywords };
  }

  /** Re-embeds one segment; a failure leaves it in `error` with the reason, and says so. */
  private async reindex(
    accountId: string,
    datasetId: string,
    seg: SegmentEntity,
    content: string,
    keywords: string[],
  ): Promise<void> {
    const dataset = await this.datasets.entity(accountId, datasetId);
    try {
      await this.indexer.index(dataset, [{ id: seg.id, content, keywords }], { accountId });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await this.segments.update({ id: seg.id }, { status: 'error', error: reason.slice(0, 2000) });
      throw new FailException(`The segment was saved but could not be indexed: ${reason}`);
    }
  }

  /** The document's character and token counts follow hand edits. */
  private async refreshDocumentCounts(documentId: string): Promise<void> {
    await this.segments.query(
      `UPDATE documents d SET character_count = x.chars, token_count = x.tokens, updated_at = now()
         FROM (SELECT COALESCE(SUM(character_count), 0)::int AS chars, COALESCE(SUM(token_count), 0)::int AS tokens
                 FROM segments WHERE document_id = $1) x
        WHERE d.id = $1`,
      [documentId],
    );
  }

  private detail(s: SegmentEntity): SegmentDetailDto {
    return { ...this.toDto(s), hash: s.hash };
  }

  toDto(s: SegmentEntity): SegmentDto {
    return {
      id: s.id,
      document_id: s.document_id,
      dataset_id: s.dataset_id,
      position: s.position,
      content: s.content,
      keywords: s.keywords,
      character_count: s.character_count,
      token_count: s.token_count,
      hit_count: s.hit_count,
      enabled: s.enabled,
      disabled_at: toUnix(s.disabled_at),
      status: s.status,
      error: s.error,
      updated_at: toUnix(s.updated_at),
      created_at: toUnix(s.created_at),
    };
  }
}
