import { PaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsUUID } from 'class-validator';
import { CONFIG_LIMITS, TTS_VOICES } from '../config/app-config.types';

export class AppModelConfigDto {
  @ApiProperty({ example: 'openai', description: 'A provider of the language-model catalog' })
  provider: string;
  @ApiProperty({ example: 'gpt-4o-mini', description: 'A chat model of that provider' })
  model: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { temperature: 0.5, top_p: 0.85, max_tokens: 8192 },
    description:
      "The model's parameters; a wrong type or an out-of-range value falls back to the default, missing ones are filled in",
  })
  parameters: Record<string, string | number | boolean>;
}

export class StoredToolDto {
  @ApiProperty({ enum: ['builtin_tool', 'api_tool'] }) type: 'builtin_tool' | 'api_tool';
  @ApiProperty({ description: 'builtin: the provider name; api: the provider id' })
  provider_id: string;
  @ApiProperty({ description: 'builtin: the tool name; api: the operationId' })
  tool_id: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "builtin: the tool's settings ({param: value}); api: {}",
  })
  params: Record<string, unknown>;
}

export class RetrievalSettingsDto {
  @ApiProperty({ enum: ['semantic', 'full_text', 'hybrid'], default: 'semantic' })
  retrieval_strategy: 'semantic' | 'full_text' | 'hybrid';
  @ApiProperty({ minimum: 1, maximum: CONFIG_LIMITS.maxK, default: 10 }) k: number;
  @ApiProperty({ minimum: 0, maximum: 1, default: 0.5 }) score: number;
}

export class EnableDto {
  @ApiProperty() enable: boolean;
}

export class TextToSpeechDto {
  @ApiProperty() enable: boolean;
  @ApiProperty({ enum: TTS_VOICES, default: 'echo' }) voice: string;
  @ApiProperty() auto_play: boolean;
}

export class ReviewInputsDto {
  @ApiProperty() enable: boolean;
  @ApiProperty({
    maxLength: CONFIG_LIMITS.maxPresetResponse,
    description: 'The answer to an input that contains a keyword (required when enabled)',
  })
  preset_response: string;
}

export class ReviewConfigDto {
  @ApiProperty() enable: boolean;
  @ApiProperty({
    type: [String],
    maxItems: CONFIG_LIMITS.maxKeywords,
    description: `Keywords (at most ${CONFIG_LIMITS.maxKeyword} characters each; blanks are dropped); not empty when enabled`,
  })
  keywords: string[];
  @ApiProperty({ type: ReviewInputsDto }) inputs_config: ReviewInputsDto;
  @ApiProperty({ type: EnableDto, description: 'Keywords in answers become **' })
  outputs_config: EnableDto;
}

/**
 * A partial update of the draft (documentation of the body): only the keys given change; an
 * empty body or an unknown key answers validate_error. Objects must have exactly the keys shown.
 */
export class UpdateDraftAppConfigDto {
  @ApiPropertyOptional({ type: AppModelConfigDto }) model_config?: AppModelConfigDto;
  @ApiPropertyOptional({ minimum: 0, maximum: CONFIG_LIMITS.maxDialogRound })
  dialog_round?: number;
  @ApiPropertyOptional({ maxLength: CONFIG_LIMITS.maxPresetPrompt }) preset_prompt?: string;
  @ApiPropertyOptional({
    type: [StoredToolDto],
    maxItems: CONFIG_LIMITS.maxTools,
    description: 'Tools that do not exist (or are not yours) are dropped silently',
  })
  tools?: StoredToolDto[];
  @ApiPropertyOptional({
    type: [String],
    maxItems: CONFIG_LIMITS.maxWorkflows,
    description: 'Workflow ids; unpublished or foreign workflows are dropped silently',
  })
  workflows?: string[];
  @ApiPropertyOptional({
    type: [String],
    maxItems: CONFIG_LIMITS.maxDatasets,
    description: 'Dataset ids; foreign or deleted datasets are dropped silently',
  })
  datasets?: string[];
  @ApiPropertyOptional({ type: RetrievalSettingsDto }) retrieval_config?: RetrievalSettingsDto;
  @ApiPropertyOptional({ type: EnableDto }) long_term_memory?: EnableDto;
  @ApiPropertyOptional({ maxLength: CONFIG_LIMITS.maxOpeningStatement })
  opening_statement?: string;
  @ApiPropertyOptional({ type: [String], maxItems: CONFIG_LIMITS.maxOpeningQuestions })
  opening_questions?: string[];
  @ApiPropertyOptional({ type: EnableDto }) speech_to_text?: EnableDto;
  @ApiPropertyOptional({ type: TextToSpeechDto }) text_to_speech?: TextToSpeechDto;
  @ApiPropertyOptional({ type: EnableDto }) suggested_after_answer?: EnableDto;
  @ApiPropertyOptional({ type: ReviewConfigDto }) review_config?: ReviewConfigDto;
}

export class ToolProviderViewDto {
  @ApiProperty({ description: 'builtin: the provider name; api: the provider id' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'builtin: its label; api: the name' }) label: string;
  @ApiProperty({ description: 'An absolute URL' }) icon: string;
  @ApiProperty() description: string;
}

export class ToolItemViewDto {
  @ApiProperty({ description: 'builtin: the tool name; api: the tool id' }) id: string;
  @ApiProperty({ description: 'builtin: the tool name; api: the operationId' }) name: string;
  @ApiProperty() label: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) params: Record<string, unknown>;
}

/** A bound tool as reads return it (CONSOLE-SHAPES §4.3). */
export class ToolViewDto {
  @ApiProperty({ enum: ['builtin_tool', 'api_tool'] }) type: 'builtin_tool' | 'api_tool';
  @ApiProperty({ type: ToolProviderViewDto }) provider: ToolProviderViewDto;
  @ApiProperty({ type: ToolItemViewDto }) tool: ToolItemViewDto;
}

export class RefViewDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
}

/** The draft as the console's form reads it: every key present, references expanded. */
export class DraftAppConfigDto {
  @ApiProperty({ format: 'uuid', description: 'The draft config row' }) id: string;
  @ApiProperty({ type: AppModelConfigDto }) model_config: AppModelConfigDto;
  @ApiProperty() dialog_round: number;
  @ApiProperty() preset_prompt: string;
  @ApiProperty({ type: [ToolViewDto] }) tools: ToolViewDto[];
  @ApiProperty({ type: [RefViewDto], description: 'Published workflows' }) workflows: RefViewDto[];
  @ApiProperty({ type: [RefViewDto] }) datasets: RefViewDto[];
  @ApiProperty({ type: RetrievalSettingsDto }) retrieval_config: RetrievalSettingsDto;
  @ApiProperty({ type: EnableDto }) long_term_memory: EnableDto;
  @ApiProperty() opening_statement: string;
  @ApiProperty({ type: [String] }) opening_questions: string[];
  @ApiProperty({ type: EnableDto }) speech_to_text: EnableDto;
  @ApiProperty({ type: TextToSpeechDto }) text_to_speech: TextToSpeechDto;
  @ApiProperty({ type: EnableDto }) suggested_after_answer: EnableDto;
  @ApiProperty({ type: ReviewConfigDto }) review_config: ReviewConfigDto;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class ListPublishHistoriesDto extends PaginatorReqDto {}

export class PublishHistoryDto {
  @ApiProperty({ format: 'uuid', description: 'The version (app_config_version_id)' }) id: string;
  @ApiProperty({ description: '1, 2, ... in publish order' }) version: number;
  @ApiProperty({ description: 'Unix seconds: when it was published' }) created_at: number;
}

export class FallbackHistoryDto {
  @ApiProperty({ format: 'uuid', description: 'A published version of this app' })
  @IsUUID('all', { message: 'app_config_version_id must be a UUID' })
  @IsNotEmpty({ message: 'app_config_version_id is required' })
  app_config_version_id: string;
}

export class WebAppDto {
  @ApiProperty({ description: 'The web-app link token; "" unless the app is published' })
  token: string;
  @ApiProperty({ enum: ['draft', 'published'] }) status: 'draft' | 'published';
}

export class PublishedConfigDto {
  @ApiProperty({ type: WebAppDto }) web_app: WebAppDto;
}

export class WebAppTokenDto {
  @ApiProperty({ description: '16 letters and digits' }) token: string;
}
