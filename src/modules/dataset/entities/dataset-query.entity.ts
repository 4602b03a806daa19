import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Who asked: hit testing, an app, or a workflow's dataset_retrieval node. */
export type DatasetQuerySource = 'hit_testing' | 'app' | 'workflow';

/** A retrieval against a dataset (hit testing, an app or a workflow), newest listed first. */
@Entity({ name: 'dataset_queries' })
@Index('idx_dataset_queries_dataset_created', ['dataset_id', 'created_at'])
export class DatasetQueryEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('idx_dataset_queries_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  dataset_id: string;

  @Column({ type: 'varchar', length: 1000 })
  query: string;

  /** `hit_testing`, `app` or `workflow` (fits the varchar(16) column; no migration needed). */
  @Column({ type: 'varchar', length: 16 })
  source: DatasetQuerySource;

  /** The app that asked, when source is `app`. */
  @Column({ type: 'uuid', nullable: true })
  source_app_id: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
