import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** One model call: tokens, price and latency, for statistics and billing. */
@Entity({ name: 'model_usages' })
@Index('idx_model_usages_account_created', ['account_id', 'created_at'])
export class ModelUsageEntity extends AppBaseEntity {
  @Column({ type: 'uuid', nullable: true })
  account_id: string | null;

  @Column({ type: 'varchar', length: 32 })
  provider: string;

  @Column({ type: 'varchar', length: 200 })
  model: string;

  @Column({ type: 'varchar', length: 16 })
  model_type: 'chat' | 'embedding';

  /** Who called: e.g. `ai.optimize-prompt`, `app.debug`, `workflow.llm`. */
  @Column({ type: 'varchar', length: 64, default: '' })
  source: string;

  @Column({ type: 'integer', default: 0 })
  prompt_tokens: number;

  @Column({ type: 'integer', default: 0 })
  completion_tokens: number;

  @Column({ type: 'integer', default: 0 })
  total_tokens: number;

  /** Token counts were estimated (the provider reported none). */
  @Column({ type: 'boolean', default: false })
  estimated: boolean;

  @Column({ type: 'numeric', precision: 18, scale: 8, default: 0 })
  price: string;

  @Column({ type: 'varchar', length: 3, default: 'USD' })
  currency: string;

  @Column({ type: 'integer', default: 0 })
  latency_ms: number;

  @Column({ type: 'varchar', length: 16, default: 'success' })
  status: 'success' | 'error' | 'aborted';

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
