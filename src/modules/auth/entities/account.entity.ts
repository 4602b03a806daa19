import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

export type AccountRole = 'admin' | 'member';

/** A person who signs in. Email is unique case-insensitively (index on lower(email)). */
@Entity({ name: 'accounts' })
@Index('uq_accounts_email_lower', { synchronize: false })
export class AccountEntity extends AppBaseEntity {
  @Column({ type: 'varchar', length: 254 })
  email: string;

  @Column({ type: 'varchar', length: 30, default: '' })
  name: string;

  @Column({ type: 'varchar', length: 500, default: '' })
  avatar: string;

  /** argon2id PHC string; null for accounts that only ever signed in through OAuth. */
  @Column({ type: 'text', nullable: true })
  password_hash: string | null;

  @Column({ type: 'varchar', length: 16, default: 'member' })
  role: AccountRole;

  @Column({ type: 'timestamptz', nullable: true })
  last_login_at: Date | null;

  @Column({ type: 'varchar', length: 64, default: '' })
  last_login_ip: string;
}
