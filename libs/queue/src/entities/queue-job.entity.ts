import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { JobName, JobStatus, QueueName } from '../queue.types';

/**
 * One row per job, whatever the driver: the row is the truth about status and progress, so a
 * restart can tell what was running and re-enqueue it.
 */
@Entity({ name: 'queue_jobs' })
@Index('idx_queue_jobs_status', ['status', 'queue'])
@Index('uq_queue_jobs_active_key', ['key'], {
  unique: true,
  where: `"status" IN ('queued', 'running')`,
})
export class QueueJobEntity extends AppBaseEntity {
  @Column({ type: 'varchar', length: 32 })
  queue: QueueName;

  @Column({ type: 'varchar', length: 64 })
  name: JobName;

  @Column({ type: 'varchar', length: 255, nullable: true })
  key: string | null;

  @Index('idx_queue_jobs_account_id')
  @Column({ type: 'uuid', nullable: true })
  account_id: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  payload: Record<string, unknown>;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  status: JobStatus;

  @Column({ type: 'real', default: 0 })
  progress: number;

  @Column({ type: 'varchar', length: 500, nullable: true })
  progress_message: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ type: 'integer', default: 3 })
  max_attempts: number;

  @Column({ type: 'integer', default: 1000 })
  backoff_ms: number;

  @Column({ type: 'integer' })
  timeout_ms: number;

  @Column({ type: 'boolean', default: false })
  cancel_requested: boolean;

  @Column({ type: 'jsonb', nullable: true })
  result: unknown;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  started_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finished_at: Date | null;
}
