import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** A signed-in device. Access tokens carry its id; revoking it ends them all at once. */
@Entity({ name: 'auth_sessions' })
export class AuthSessionEntity extends AppBaseEntity {
  @Index('idx_auth_sessions_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 500, default: '' })
  user_agent: string;

  @Column({ type: 'varchar', length: 64, default: '' })
  ip: string;

  @Index('idx_auth_sessions_expires_at')
  @Column({ type: 'timestamptz' })
  expires_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  revoked_at: Date | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  revoked_reason: string | null;
}
