import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

export type EntrySource = 'huggingface' | 'ollama' | 'local';
export type EntryFormat = 'gguf' | 'safetensors' | 'other';
export type EntryStatus = 'remote' | 'downloaded';

/**
 * One model the machine knows: looked at on a hub, downloaded, or found locally. Machine-wide (the
 * files on disk are shared by every account), so not filtered by account; `account_id` records who
 * last looked at or downloaded it (null when a sync created it). Favorites are per account.
 */
@Entity({ name: 'model_entries' })
@Index('uq_model_entries_source_model_id', ['source', 'model_id'], { unique: true })
export class ModelEntryEntity extends AppBaseEntity {
  @Index('idx_model_entries_account_id')
  @Column({ type: 'uuid', nullable: true })
  account_id: string | null;

  @Column({ type: 'varchar', length: 16 })
  source: EntrySource;

  @Column({ type: 'varchar', length: 255 })
  model_id: string;

  @Column({ type: 'varchar', length: 255, default: '' })
  name: string;

  @Column({ type: 'varchar', length: 255, default: '' })
  author: string;

  @Column({ type: 'varchar', length: 16, default: 'other' })
  format: EntryFormat;

  /** The hub's task (e.g. text-generation): the registry's "type" and its categories. */
  @Column({ type: 'varchar', length: 64, default: '' })
  pipeline_tag: string;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber() })
  parameter_count: number | null;

  @Column({ type: 'varchar', length: 32, default: '' })
  quantization: string;

  @Column({ type: 'integer', nullable: true })
  context_length: number | null;

  @Column({ type: 'bigint', default: 0, transformer: bigintNumber() })
  size: number;

  @Column({ type: 'jsonb', default: () => `'[]'` })
  tags: string[];

  @Column({ type: 'bigint', default: 0, transformer: bigintNumber() })
  downloads: number;

  @Column({ type: 'integer', default: 0 })
  likes: number;

  @Column({ type: 'varchar', length: 16, default: 'remote' })
  status: EntryStatus;

  /** The commit of the downloaded snapshot (Hugging Face) or the digest (Ollama). */
  @Column({ type: 'varchar', length: 255, default: '' })
  revision: string;

  /** The snapshot directory of a downloaded model; '' otherwise. */
  @Column({ type: 'varchar', length: 1000, default: '' })
  local_path: string;

  @Column({ type: 'timestamptz', nullable: true })
  last_synced_at: Date | null;
}

/** Postgres answers bigint as a string; sizes and counts fit a JS number (< 2^53). */
function bigintNumber() {
  return {
    to: (v: number | null | undefined) => v,
    from: (v: string | null) => (v === null ? null : Number(v)),
  };
}
