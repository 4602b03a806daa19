import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import type { RetrievalStrategy } from 'src/modules/dataset/entities/dataset.entity';

export const RETRIEVAL_STRATEGIES: RetrievalStrategy[] = ['semantic', 'full_text', 'hybrid'];

export class HitTestingDto {
  @ApiProperty({ maxLength: 200, description: 'The text to search for' })
  @MaxLength(200, { message: 'query must be at most 200 characters' })
  @IsString({ message: 'query must be a string' })
  @IsNotEmpty({ message: 'query is required' })
  query: string;

  @ApiProperty({
    enum: RETRIEVAL_STRATEGIES,
    description:
      'semantic (embeddings), full_text (keywords) or hybrid (both, fused); economy datasets are always searched by keywords',
  })
  @IsIn(RETRIEVAL_STRATEGIES, {
    message: 'retrieval_strategy must be semantic, full_text or hybrid',
  })
  @IsNotEmpty({ message: 'retrieval_strategy is required' })
  retrieval_strategy: RetrievalStrategy;

  @ApiProperty({ minimum: 1, maximum: 10, description: 'How many segments at most' })
  @Max(10, { message: 'k must be between 1 and 10' })
  @Min(1, { message: 'k must be between 1 and 10' })
  @IsInt({ message: 'k must be an integer' })
  k: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 0.99,
    default: 0,
    description: 'Minimum score (0-0.99) of semantic and hybrid hits; ignored by full-text search',
  })
  @IsOptional()
  @Max(0.99, { message: 'score must be between 0 and 0.99' })
  @Min(0, { message: 'score must be between 0 and 0.99' })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'score must be a number' })
  score?: number;
}

export class HitDocumentDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'The document name' }) name: string;
  @ApiProperty({ description: 'File extension, lowercase, without the dot' }) extension: string;
  @ApiProperty() mime_type: string;
}

export class HitDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ type: HitDocumentDto }) document: HitDocumentDto;
  @ApiProperty({ format: 'uuid' }) dataset_id: string;
  @ApiProperty({
    description:
      '0-1: cosine similarity (semantic), normalized keyword rank (full_text), 0.7 x similarity + 0.3 x relative keyword rank (hybrid)',
  })
  score: number;
  @ApiProperty({ description: 'Position of the segment in its document' }) position: number;
  @ApiProperty() content: string;
  @ApiProperty({ type: [String] }) keywords: string[];
  @ApiProperty() character_count: number;
  @ApiProperty() token_count: number;
  @ApiProperty({ description: 'How many retrievals returned it' }) hit_count: number;
  @ApiProperty() enabled: boolean;
  @ApiProperty({ description: 'Unix seconds; 0 when enabled' }) disabled_at: number;
  @ApiProperty({ enum: ['waiting', 'indexing', 'completed', 'error'] }) status: string;
  @ApiProperty() error: string;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class DatasetQueryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) dataset_id: string;
  @ApiProperty() query: string;
  @ApiProperty({ enum: ['hit_testing', 'app', 'workflow'] }) source: string;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}
