import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/**
 * Someone who talks to a published app without a console account: a service-API caller's user
 * or a web-app visitor. `account_id` is the app owner's (whose data the conversations are).
 */
@Entity({ name: 'end_users' })
@Index('idx_end_users_app_id', ['app_id'])
export class EndUserEntity extends AppBaseEntity {
  @Index('idx_end_users_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  app_id: string;
}
