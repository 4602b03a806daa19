import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

export class ListLanguageModelsDto {
  /** Which models to list: chat (default, what the console's model picker expects), embedding or all. */
  @ApiPropertyOptional({ enum: ['chat', 'embedding', 'all'], default: 'chat' })
  @IsOptional()
  @IsIn(['chat', 'embedding', 'all'], { message: 'model_type must be chat, embedding or all' })
  model_type?: 'chat' | 'embedding' | 'all';
}

export class ParameterOptionDto {
  @ApiProperty() label: string;
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'number' }] }) value: string | number;
}

export class ModelParameterDto {
  @ApiProperty() name: string;
  @ApiProperty() label: string;
  @ApiProperty({ enum: ['float', 'int', 'string', 'boolean'] }) type: string;
  @ApiProperty() help: string;
  @ApiProperty() required: boolean;
  @ApiProperty({
    nullable: true,
    oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }],
  })
  default: unknown;
  @ApiProperty({ nullable: true }) min: number | null;
  @ApiProperty({ nullable: true }) max: number | null;
  @ApiProperty() precision: number;
  @ApiProperty({ type: [ParameterOptionDto] }) options: ParameterOptionDto[];
}

export class LanguageModelDto {
  @ApiProperty({ example: 'gpt-4o-mini' }) model_name: string;
  @ApiProperty() label: string;
  @ApiProperty({ enum: ['chat', 'embedding'] }) model_type: string;
  /** tool_call, agent_thought, image_input */
  @ApiProperty({ type: [String] }) features: string[];
  @ApiProperty() context_window: number;
  @ApiProperty() max_output_tokens: number;
  /** Constructor attributes (`{model}`), as the original answers. */
  @ApiProperty() attributes: Record<string, unknown>;
  /** `{pricing: {input, output, unit, currency}}`: price per `unit` tokens. */
  @ApiProperty() metadata: Record<string, unknown>;
  @ApiProperty({ type: [ModelParameterDto] }) parameters: ModelParameterDto[];
}

export class LanguageModelProviderDto {
  @ApiProperty() name: string;
  @ApiProperty() position: number;
  @ApiProperty() label: string;
  /** File name; the image is served at /language-models/:provider_name/icon. */
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty() background: string;
  @ApiProperty({ type: [String] }) support_model_types: string[];
  /** Whether calls can be made (your credentials or the server's). */
  @ApiProperty() configured: boolean;
  @ApiProperty({ type: [LanguageModelDto] }) models: LanguageModelDto[];
}
