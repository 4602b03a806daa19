import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { FileProgress, SnapshotFile } from '../downloader';

export type DownloadTaskStatus =
  'pending' | 'downloading' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface DownloadPlanJson {
  repo: string;
  ref: string;
  files: SnapshotFile[];
}

/** One model download (machine-wide: started by an admin, recorded on their account). */
@Entity({ name: 'download_tasks' })
@Index('idx_download_tasks_status_created', ['status', 'created_at'])
// One open download per model: two would write the same partial blobs.
@Index('uq_download_tasks_open_model', ['source', 'model_id'], {
  unique: true,
  where: "status IN ('pending', 'downloading', 'paused')",
})
export class DownloadTaskEntity extends AppBaseEntity {
  @Index('idx_download_tasks_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 32 })
  source: string;

  @Column({ type: 'varchar', length: 255 })
  model_id: string;

  /** The branch, tag or sha asked for. */
  @Column({ type: 'varchar', length: 255 })
  revision: string;

  /** The commit sha it resolved to (the snapshot folder). */
  @Column({ type: 'varchar', length: 64 })
  commit: string;

  /** Globs asked for; empty = every file. */
  @Column({ type: 'jsonb', default: () => `'[]'` })
  file_patterns: string[];

  @Column({ type: 'jsonb' })
  plan: DownloadPlanJson;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: DownloadTaskStatus;

  /** 0..100. */
  @Column({ type: 'double precision', default: 0 })
  progress: number;

  @Column({ type: 'bigint', default: 0, transformer: bigintNumber() })
  downloaded_bytes: number;

  @Column({ type: 'bigint', default: 0, transformer: bigintNumber() })
  total_bytes: number;

  /** Bytes per second. */
  @Column({ type: 'double precision', default: 0 })
  speed: number;

  /** Seconds. */
  @Column({ type: 'integer', nullable: true })
  eta: number | null;

  @Column({ type: 'text', default: '' })
  error: string;

  @Column({ type: 'jsonb', default: () => `'[]'` })
  file_progress: FileProgress[];

  @Column({ type: 'timestamptz', nullable: true })
  started_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finished_at: Date | null;
}

function bigintNumber() {
  return {
    to: (v: number | undefined) => v,
    from: (v: string | number | null) => (v === null ? 0 : Number(v)),
  };
}
