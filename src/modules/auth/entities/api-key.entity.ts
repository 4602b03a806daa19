import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/**
 * A service-API key: looked up by its sha256, and kept sealed (SecretBox) so its owner's list can
 * show it again, as the original console expects. Keys created before sealing have only `hint`.
 */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity extends AppBaseEntity {
  @Index('idx_api_keys_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Index('uq_api_keys_key_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  key_hash: string;

  /** The whole key, SecretBox-sealed; null for keys created before keys were sealed. */
  @Column({ type: 'text', nullable: true })
  key_sealed: string | null;

  /** e.g. `llmops-v1/AbCd…wXyZ` */
  @Column({ type: 'varchar', length: 40 })
  hint: string;

  @Column({ type: 'varchar', length: 100, default: '' })
  remark: string;

  @Column({ type: 'boolean', default: true })
  is_active: boolean;

  @Column({ type: 'timestamptz', nullable: true })
  last_used_at: Date | null;
}
