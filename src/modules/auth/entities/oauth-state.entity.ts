import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** A pending OAuth authorization: the `state` nonce, consumed once (deleted) on callback. */
@Entity({ name: 'auth_oauth_states' })
export class OAuthStateEntity extends AppBaseEntity {
  @Column({ type: 'varchar', length: 32 })
  provider: string;

  @Index('idx_auth_oauth_states_expires_at')
  @Column({ type: 'timestamptz' })
  expires_at: Date;
}
