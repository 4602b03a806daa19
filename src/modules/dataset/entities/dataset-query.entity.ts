import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A retrieval against a dataset (hit testing or an app), newest listed first. */
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

  /** `hit_testing` or `app`. */
  @Column({ type: 'varchar', length: 16 })
  source: 'hit_testing' | 'app';

  /** The app that asked, when source is `app`. */
  @Column({ type: 'uuid', nullable: true })
  source_app_id: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
