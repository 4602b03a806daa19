import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/**
 * Someone who talks to a published app without a console account: a service-API caller's user
 * or a web-app visitor. `account_id` is the app owner's (whose data the conversations are).
 */
@Entity({ name: 'end_users' })
@Index('idx_end_users_app_id', ['app_id'])
@Index('uq_end_users_app_account', ['app_id', 'created_by_account'], {
  unique: true,
  where: 'created_by_account IS NOT NULL',
})
export class EndUserEntity extends AppBaseEntity {
  @Index('idx_end_users_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  app_id: string;

  /**
   * Web apps: the console account a signed-in visitor talks as (one end user per app and
   * account, so their conversations follow the login); null for anonymous visitors (identified
   * by a signed cookie) and service-API end users.
   */
  @Column({ type: 'uuid', nullable: true })
  created_by_account: string | null;
}
