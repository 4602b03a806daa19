import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import { decimalNumber } from './message.entity';

/** The stored step events of a message (the console's steps panel). */
export type StoredThoughtEvent =
  | 'long_term_memory_recall'
  | 'agent_thought'
  | 'agent_action'
  | 'dataset_retrieval'
  | 'agent_message';
export const STORED_THOUGHT_EVENTS: readonly StoredThoughtEvent[] = [
  'long_term_memory_recall',
  'agent_thought',
  'agent_action',
  'dataset_retrieval',
  'agent_message',
];

/** One step of an agent's answer, in `position` order within its message. */
@Entity({ name: 'message_agent_thoughts' })
@Index('idx_message_agent_thoughts_message_position', ['message_id', 'position'])
export class MessageAgentThoughtEntity extends AppBaseEntity {
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  message_id: string;

  @Column({ type: 'uuid' })
  conversation_id: string;

  @Column({ type: 'integer' })
  position: number;

  @Column({ type: 'varchar', length: 32 })
  event: StoredThoughtEvent;

  @Column({ type: 'text', default: '' })
  thought: string;

  @Column({ type: 'text', default: '' })
  observation: string;

  @Column({ type: 'varchar', length: 255, default: '' })
  tool: string;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  tool_input: Record<string, unknown>;

  @Column({ type: 'integer', default: 0 })
  total_token_count: number;

  @Column({ type: 'numeric', precision: 18, scale: 7, default: 0, transformer: decimalNumber() })
  total_price: number;

  /** Seconds. */
  @Column({ type: 'double precision', default: 0 })
  latency: number;
}
