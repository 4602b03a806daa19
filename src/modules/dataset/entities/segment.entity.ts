import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

export type SegmentStatus = 'waiting' | 'indexing' | 'completed' | 'error';

/**
 * A piece of a document, the unit of retrieval. `embedding` is an untyped pgvector column so
 * datasets with different embedding models (dimensions) share the table; each dimension gets its
 * own partial HNSW index on `embedding::vector(n)` (see SegmentRepository.ensureVectorIndex).
 */
@Entity({ name: 'segments' })
@Index('uq_segments_document_position', ['document_id', 'position'], { unique: true })
@Index('idx_segments_dataset_id', ['dataset_id'])
export class SegmentEntity extends AppBaseEntity {
  @Index('idx_segments_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  dataset_id: string;

  @Column({ type: 'uuid' })
  document_id: string;

  @Column({ type: 'int' })
  position: number;

  @Column({ type: 'text' })
  content: string;

  /** sha256 of the content: a re-run keeps what it already indexed. */
  @Column({ type: 'varchar', length: 64 })
  hash: string;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  keywords: string[];

  @Column({ type: 'int', default: 0 })
  character_count: number;

  @Column({ type: 'int', default: 0 })
  token_count: number;

  @Column({ type: 'int', default: 0 })
  hit_count: number;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ type: 'timestamptz', nullable: true })
  disabled_at: Date | null;

  @Column({ type: 'varchar', length: 16, default: 'waiting' })
  status: SegmentStatus;

  @Column({ type: 'text', default: '' })
  error: string;

  @Column({ type: 'timestamptz', nullable: true })
  indexing_completed_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  stopped_at: Date | null;

  /** Never loaded by default (kilobytes per row). */
  @Column({ type: 'vector', nullable: true, select: false })
  embedding: number[] | null;

  @Column({ type: 'int', nullable: true })
  embedding_dims: number | null;

  /** jieba-segmented content for full-text search ('simple' configuration). */
  @Index('idx_segments_search_vector', { synchronize: false })
  @Column({ type: 'tsvector', nullable: true, select: false })
  search_vector: string | null;
}
