import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { ProcessRule } from '../indexing/pipeline.types';

export type DocumentStatus =
  'waiting' | 'parsing' | 'splitting' | 'indexing' | 'completed' | 'error';

/** An uploaded file in a dataset, and where its indexing stands. */
@Entity({ name: 'documents' })
@Index('uq_documents_dataset_position', ['dataset_id', 'position'], { unique: true })
@Index('idx_documents_dataset_batch', ['dataset_id', 'batch'])
export class DocumentEntity extends AppBaseEntity {
  @Index('idx_documents_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  dataset_id: string;

  @Column({ type: 'uuid' })
  upload_file_id: string;

  /** `YYYYMMDDHHMMSS` + 6 random digits: the documents created by one request. */
  @Column({ type: 'varchar', length: 32 })
  batch: string;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'int' })
  position: number;

  @Column({ type: 'jsonb' })
  process_rule: ProcessRule;

  @Column({ type: 'varchar', length: 16, default: 'waiting' })
  status: DocumentStatus;

  /** Why indexing failed, for the user; '' when it did not. */
  @Column({ type: 'text', default: '' })
  error: string;

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

  @Column({ type: 'timestamptz', nullable: true })
  processing_started_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  parsing_completed_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  splitting_completed_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  indexing_completed_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  stopped_at: Date | null;
}
