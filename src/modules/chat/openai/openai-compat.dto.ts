import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Swagger shapes of the OpenAI-compatible routes (bodies are checked by EmbeddingsRequest). */
export class EmbeddingsReqDto {
  @ApiProperty({
    description:
      'An embedding model: `provider/model` (e.g. `openai/text-embedding-3-small`) or a model name the catalog knows',
  })
  model: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description:
      'A text or up to 2048 texts (each at most 32,768 characters); token arrays are not accepted',
  })
  input: string | string[];

  @ApiPropertyOptional({ enum: ['float', 'base64'], default: 'float' })
  encoding_format?: 'float' | 'base64';

  @ApiPropertyOptional({ description: 'Passed through to OpenAI-style clients; not used' })
  user?: string;
}

export class EmbeddingItemDto {
  @ApiProperty({ enum: ['embedding'] }) object: 'embedding';
  @ApiProperty() index: number;
  @ApiProperty({
    oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }],
    description: 'Floats, or base64 of little-endian float32 when encoding_format is base64',
  })
  embedding: number[] | string;
}

export class EmbeddingsUsageDto {
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() total_tokens: number;
}

export class EmbeddingsResDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [EmbeddingItemDto] }) data: EmbeddingItemDto[];
  @ApiProperty() model: string;
  @ApiProperty({ type: EmbeddingsUsageDto }) usage: EmbeddingsUsageDto;
}

export class ModelItemDto {
  @ApiProperty({ description: 'The app id (use it as `model` in /v1/chat/completions)' })
  id: string;
  @ApiProperty({ enum: ['model'] }) object: 'model';
  @ApiProperty({ description: 'Unix seconds' }) created: number;
  @ApiProperty({ description: 'The app name' }) owned_by: string;
}

export class ModelListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ModelItemDto] }) data: ModelItemDto[];
}
