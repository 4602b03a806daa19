import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { DraftGraph } from '../graph/graph.types';

export type WorkflowStatus = 'draft' | 'published';

/** A workflow of an account: its draft graph (edited) and its published copy (run by apps). */
@Entity({ name: 'workflows' })
@Index('uq_workflows_account_tool_call_name', ['account_id', 'tool_call_name'], { unique: true })
export class WorkflowEntity extends AppBaseEntity {
  @Index('idx_workflows_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 50 })
  name: string;

  /** The function name apps and agents call it by; unique in the account. */
  @Column({ type: 'varchar', length: 50 })
  tool_call_name: string;

  @Column({ type: 'varchar', length: 1000, default: '' })
  icon: string;

  @Column({ type: 'text', default: '' })
  description: string;

  @Column({ type: 'varchar', length: 16, default: 'draft' })
  status: WorkflowStatus;

  /** As the console saved it, half-edited or not. */
  @Column({ type: 'jsonb', default: () => `'{"edges": [], "nodes": []}'` })
  draft_graph: DraftGraph;

  /** The validated copy of the draft made at publish; `{}` while unpublished. */
  @Column({ type: 'jsonb', default: () => `'{}'` })
  graph: DraftGraph | Record<string, never>;

  /** True after a debug run of the current draft finished; any draft change resets it. */
  @Column({ type: 'boolean', default: false })
  is_debug_passed: boolean;

  @Column({ type: 'timestamptz', nullable: true })
  published_at: Date | null;
}
