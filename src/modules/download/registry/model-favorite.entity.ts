import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** An account's favorite among the machine-wide model entries. */
@Entity({ name: 'model_favorites' })
@Index('uq_model_favorites_account_entry', ['account_id', 'model_entry_id'], { unique: true })
export class ModelFavoriteEntity extends AppBaseEntity {
  @Index('idx_model_favorites_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Index('idx_model_favorites_model_entry_id')
  @Column({ type: 'uuid' })
  model_entry_id: string;
}
