import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';
import type {
  AppConfigFields,
  AppModelConfig,
  AppRetrievalConfig,
  EnableFlag,
  ReviewConfig,
  StoredTool,
  TextToSpeech,
} from '../config/app-config.types';

export type AppConfigType = 'draft' | 'published';

/**
 * One configuration of an app: its draft (`config_type` draft, version 0, edited in place) or a
 * published version (version 1, 2, ..., never changed after publish).
 */
@Entity({ name: 'app_config_versions' })
@Index('uq_app_config_versions_app_type_version', ['app_id', 'config_type', 'version'], {
  unique: true,
})
export class AppConfigVersionEntity extends AppBaseEntity implements AppConfigFields {
  @Index('idx_app_config_versions_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  app_id: string;

  @Column({ type: 'varchar', length: 16 })
  config_type: AppConfigType;

  /** 0 for the draft; published versions count from 1. */
  @Column({ type: 'integer', default: 0 })
  version: number;

  @Column({ type: 'jsonb' })
  model_config: AppModelConfig;

  @Column({ type: 'integer', default: 3 })
  dialog_round: number;

  @Column({ type: 'text', default: '' })
  preset_prompt: string;

  /** Stored form `{type, provider_id, tool_id, params}` (CONSOLE-SHAPES §4.3). */
  @Column({ type: 'jsonb', default: () => `'[]'` })
  tools: StoredTool[];

  /** Workflow ids. */
  @Column({ type: 'jsonb', default: () => `'[]'` })
  workflows: string[];

  /** Dataset ids. */
  @Column({ type: 'jsonb', default: () => `'[]'` })
  datasets: string[];

  @Column({ type: 'jsonb' })
  retrieval_config: AppRetrievalConfig;

  @Column({ type: 'jsonb' })
  long_term_memory: EnableFlag;

  @Column({ type: 'text', default: '' })
  opening_statement: string;

  @Column({ type: 'jsonb', default: () => `'[]'` })
  opening_questions: string[];

  @Column({ type: 'jsonb' })
  speech_to_text: EnableFlag;

  @Column({ type: 'jsonb' })
  text_to_speech: TextToSpeech;

  @Column({ type: 'jsonb' })
  suggested_after_answer: EnableFlag;

  @Column({ type: 'jsonb' })
  review_config: ReviewConfig;
}
