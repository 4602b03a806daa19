import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type { AppAnalysisDto } from '../dto/analysis.dto';

/**
 * The cached analysis of an app for one day: the window (the 7 full days before `day` and the 7
 * before them) does not move until midnight, so a day's answer is computed once, by the first
 * read or by the refresh job after midnight, and shared by every process.
 */
@Entity({ name: 'app_analyses' })
@Index('uq_app_analyses_app_day', ['app_id', 'day'], { unique: true })
export class AppAnalysisEntity extends AppBaseEntity {
  @Index('idx_app_analyses_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  app_id: string;

  /** The local date (YYYY-MM-DD) the window ends at (its midnight, excluded). */
  @Column({ type: 'varchar', length: 10 })
  day: string;

  @Column({ type: 'jsonb' })
  data: AppAnalysisDto;
}
