import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** Where a conversation or message came from (the original's `invoke_from`). */
export type InvokeFrom = 'debugger' | 'web_app' | 'service_api' | 'assistant_agent';
export const INVOKE_FROM: readonly InvokeFrom[] = [
  'debugger',
  'web_app',
  'service_api',
  'assistant_agent',
];

/**
 * A conversation: the debug chat of an app, a web-app or service-API chat, or an account's chat
 * with the assistant agent (`app_id` null). `account_id` is the account whose data it is (the
 * app's owner; the assistant's user); `created_by` is who talks in it: that account, or an end
 * user of a web app or the service API.
 */
@Entity({ name: 'conversations' })
@Index('idx_conversations_account_invoke', ['account_id', 'invoke_from', 'is_deleted'])
@Index('idx_conversations_app_created', ['app_id', 'created_at'])
@Index('idx_conversations_created_by', ['created_by', 'is_deleted'])
export class ConversationEntity extends AppBaseEntity {
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid', nullable: true })
  app_id: string | null;

  @Column({ type: 'varchar', length: 255, default: 'New Conversation' })
  name: string;

  /** Long-term memory: the running summary of the conversation. */
  @Column({ type: 'text', default: '' })
  summary: string;

  @Column({ type: 'boolean', default: false })
  is_pinned: boolean;

  /** Soft delete: the messages stay for analysis. */
  @Column({ type: 'boolean', default: false })
  is_deleted: boolean;

  @Column({ type: 'varchar', length: 32 })
  invoke_from: InvokeFrom;

  @Column({ type: 'uuid' })
  created_by: string;
}
