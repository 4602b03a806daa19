import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Failed-login counter per subject (`email:<addr>` or `ip:<addr>`), with a lock once over the limit. */
@Entity({ name: 'auth_login_failures' })
export class LoginFailureEntity {
  @PrimaryColumn({ type: 'varchar', length: 300 })
  subject: string;

  @Column({ type: 'integer', default: 0 })
  failures: number;

  @Index('idx_auth_login_failures_window')
  @Column({ type: 'timestamptz' })
  window_started_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  locked_until: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
