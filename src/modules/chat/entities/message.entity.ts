import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { InvokeFrom } from './conversation.entity';

export type MessageStatus = 'normal' | 'stop' | 'timeout' | 'error';

/** One exchange: the query, the answer, what it cost and how it ended. */
@Entity({ name: 'messages' })
@Index('idx_messages_conversation_created', ['conversation_id', 'created_at'])
@Index('idx_messages_app_created', ['app_id', 'created_at'])
export class MessageEntity extends AppBaseEntity {
  @Index('idx_messages_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid', nullable: true })
  app_id: string | null;

  @Column({ type: 'uuid' })
  conversation_id: string;

  @Column({ type: 'varchar', length: 32 })
  invoke_from: InvokeFrom;

  @Column({ type: 'uuid' })
  created_by: string;

  @Column({ type: 'text', default: '' })
  query: string;

  @Column({ type: 'jsonb', default: () => `'[]'` })
  image_urls: string[];

  @Column({ type: 'text', default: '' })
  answer: string;

  @Column({ type: 'integer', default: 0 })
  message_token_count: number;

  @Column({ type: 'integer', default: 0 })
  answer_token_count: number;

  @Column({ type: 'integer', default: 0 })
  total_token_count: number;

  /** In the currency of the model catalog's prices. */
  @Column({ type: 'numeric', precision: 18, scale: 7, default: 0, transformer: decimalNumber() })
  total_price: number;

  /** Seconds from the query to the last byte of the answer. */
  @Column({ type: 'double precision', default: 0 })
  latency: number;

  @Column({ type: 'varchar', length: 16, default: 'normal' })
  status: MessageStatus;

  @Column({ type: 'text', default: '' })
  error: string;

  @Column({ type: 'boolean', default: false })
  is_deleted: boolean;
}

export function decimalNumber() {
  return {
    to: (v: number | undefined) => v,
    from: (v: string | number | null) => (v === null ? 0 : Number(v)),
  };
}
