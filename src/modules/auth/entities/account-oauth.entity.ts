import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** Links an account to an identity at an OAuth provider (GitHub user id). */
@Entity({ name: 'account_oauth' })
@Index('uq_account_oauth_provider_openid', ['provider', 'openid'], { unique: true })
export class AccountOAuthEntity extends AppBaseEntity {
  @Index('idx_account_oauth_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 32 })
  provider: string;

  @Column({ type: 'varchar', length: 255 })
  openid: string;
}
