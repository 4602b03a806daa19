import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** An account's credentials for one provider. The secret part is sealed (AES-256-GCM). */
@Entity({ name: 'model_credentials' })
@Index('uq_model_credentials_account_provider', ['account_id', 'provider'], { unique: true })
export class ModelCredentialEntity extends AppBaseEntity {
  @Index('idx_model_credentials_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 32 })
  provider: string;

  /** SecretBox-sealed JSON `{api_key, organization}`. */
  @Column({ type: 'text' })
  secret: string;

  /** Masked api key for display. */
  @Column({ type: 'varchar', length: 32, default: '' })
  api_key_hint: string;

  /** Not secret; shown in lists. Empty means the provider's default. */
  @Column({ type: 'varchar', length: 500, default: '' })
  base_url: string;

  @Column({ type: 'timestamptz', nullable: true })
  last_tested_at: Date | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  last_test_status: 'ok' | 'failed' | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  last_test_error: string | null;
}
