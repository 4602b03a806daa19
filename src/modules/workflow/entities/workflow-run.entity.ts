import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { DraftGraph } from '../graph/graph.types';

export type WorkflowRunSource = 'debug' | 'published' | 'tool' | 'api';
export type WorkflowRunStatus = 'running' | 'succeeded' | 'failed' | 'stopped' | 'timeout';

/** One run of a workflow: the graph it ran (a snapshot, so a resume runs the same graph). */
@Entity({ name: 'workflow_runs' })
@Index('idx_workflow_runs_workflow_created', ['workflow_id', 'created_at'])
export class WorkflowRunEntity extends AppBaseEntity {
  @Index('idx_workflow_runs_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  workflow_id: string;

  @Column({ type: 'varchar', length: 16 })
  source: WorkflowRunSource;

  @Index('idx_workflow_runs_status')
  @Column({ type: 'varchar', length: 16, default: 'running' })
  status: WorkflowRunStatus;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  inputs: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  outputs: Record<string, unknown>;

  @Column({ type: 'text', default: '' })
  error: string;

  @Column({ type: 'timestamptz', nullable: true })
  started_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finished_at: Date | null;

  /** Seconds. */
  @Column({ type: 'double precision', default: 0 })
  latency: number;

  @Column({ type: 'jsonb' })
  graph: DraftGraph;
}
