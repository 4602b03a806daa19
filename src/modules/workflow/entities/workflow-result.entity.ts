import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { NodeType } from '../graph/graph.types';

/**
 * One node's final event in a run (succeeded, failed or skipped), written as it happens: the
 * run history shows them and a resumed run restores the finished ones instead of running them
 * again. One row per node and run.
 */
@Entity({ name: 'workflow_results' })
@Index('uq_workflow_results_run_node', ['run_id', 'node_id'], { unique: true })
export class WorkflowResultEntity extends AppBaseEntity {
  @Index('idx_workflow_results_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  run_id: string;

  @Column({ type: 'text' })
  node_id: string;

  @Column({ type: 'varchar', length: 32 })
  node_type: NodeType;

  @Column({ type: 'text', default: '' })
  title: string;

  @Column({ type: 'varchar', length: 16 })
  status: 'succeeded' | 'failed' | 'skipped';

  @Column({ type: 'jsonb', default: () => `'{}'` })
  inputs: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  outputs: Record<string, unknown>;

  @Column({ type: 'text', nullable: true })
  handle: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  handled_by: 'default_value' | 'error_branch' | null;

  @Column({ type: 'text', default: '' })
  error: string;

  @Column({ type: 'int', default: 0 })
  retries: number;

  /** Model tokens the node used (prompt + completion). */
  @Column({ type: 'int', default: 0 })
  tokens: number;

  /** Seconds. */
  @Column({ type: 'double precision', default: 0 })
  latency: number;

  @Column({ type: 'timestamptz', nullable: true })
  started_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finished_at: Date | null;
}
