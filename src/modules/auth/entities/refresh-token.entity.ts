import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/**
 * Every refresh token ever issued for a session, by hash. A token is used once: presenting one
 * that was already rotated means it leaked, and the whole session is revoked.
 */
@Entity({ name: 'auth_refresh_tokens' })
export class RefreshTokenEntity extends AppBaseEntity {
  @Index('idx_auth_refresh_tokens_session_id')
  @Column({ type: 'uuid' })
  session_id: string;

  @Index('idx_auth_refresh_tokens_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  /** sha256 hex of the token. */
  @Index('uq_auth_refresh_tokens_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  token_hash: string;

  @Column({ type: 'timestamptz', nullable: true })
  rotated_at: Date | null;
}
