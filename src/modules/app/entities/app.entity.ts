import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

export type AppStatus = 'draft' | 'published';

/**
 * An agent app of an account. Its configuration lives in app_config_versions: one draft (edited)
 * and an immutable version per publish; `published_config_id` names the version that runs.
 */
@Entity({ name: 'apps' })
export class AppEntity extends AppBaseEntity {
  @Index('idx_apps_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 40 })
  name: string;

  @Column({ type: 'varchar', length: 1000, default: '' })
  icon: string;

  @Column({ type: 'text', default: '' })
  description: string;

  @Column({ type: 'varchar', length: 16, default: 'draft' })
  status: AppStatus;

  /** The published version that runs (web app, service API); null while a draft. */
  @Column({ type: 'uuid', nullable: true })
  published_config_id: string | null;

  /** The debug chat's conversation (the chat increment sets it); null until the first debug turn. */
  @Column({ type: 'uuid', nullable: true })
  debug_conversation_id: string | null;

  /**
   * The public web-app link's token (16 letters and digits): made on the first read of the
   * published config while published, cleared by cancel-publish (so republishing gives a new link).
   */
  @Index('uq_apps_token', { unique: true })
  @Column({ type: 'varchar', length: 16, nullable: true })
  token: string | null;
}
