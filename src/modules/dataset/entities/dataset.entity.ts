import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

export type IndexingMode = 'high_quality' | 'economy';
export type RetrievalStrategy = 'semantic' | 'full_text' | 'hybrid';

export interface RetrievalConfig {
  retrieval_strategy: RetrievalStrategy;
  /** 1-10 results. */
  k: number;
  /** Minimum score 0-1 (semantic and hybrid). */
  score: number;
}

/** A knowledge base: documents split into segments, searchable by meaning and by keywords. */
@Entity({ name: 'datasets' })
@Index('uq_datasets_account_name', ['account_id', 'name'], { unique: true })
export class DatasetEntity extends AppBaseEntity {
  @Index('idx_datasets_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ type: 'varchar', length: 500, default: '' })
  icon: string;

  @Column({ type: 'text', default: '' })
  description: string;

  /** `high_quality`: embeddings + keywords; `economy`: keywords only, no model needed. */
  @Column({ type: 'varchar', length: 16, default: 'high_quality' })
  indexing_mode: IndexingMode;

  /** Embedding model (high_quality), from the language-model catalog. */
  @Column({ type: 'varchar', length: 32, default: '' })
  embedding_provider: string;

  @Column({ type: 'varchar', length: 200, default: '' })
  embedding_model: string;

  /** Dimensions of the stored vectors, known after the first embeddings; null before. */
  @Column({ type: 'int', nullable: true })
  embedding_dims: number | null;

  /** Defaults for apps and hit testing. */
  @Column({ type: 'jsonb' })
  retrieval_config: RetrievalConfig;
}
