import { SearchPaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

const trim = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

export class ListDatasetsDto extends SearchPaginatorReqDto {}

export class RetrievalConfigDto {
  @ApiProperty({ enum: ['semantic', 'full_text', 'hybrid'], default: 'semantic' })
  @IsIn(['semantic', 'full_text', 'hybrid'], {
    message: 'retrieval_strategy must be semantic, full_text or hybrid',
  })
  retrieval_strategy: 'semantic' | 'full_text' | 'hybrid';

  @ApiProperty({ minimum: 1, maximum: 10, default: 4 })
  @Max(10, { message: 'k must be at most 10' })
  @Min(1, { message: 'k must be at least 1' })
  @IsInt({ message: 'k must be an integer' })
  k: number;

  /** Minimum similarity 0-1 (any JSON number: the console's slider sends 0 as an integer). */
  @ApiProperty({ minimum: 0, maximum: 1, default: 0.5 })
  @Max(1, { message: 'score must be at most 1' })
  @Min(0, { message: 'score must be at least 0' })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'score must be a number' })
  score: number;
}

export class CreateDatasetDto {
  @ApiProperty({ maxLength: 100, description: 'Unique among your datasets' })
  @trim()
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  @IsNotEmpty({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  name: string;

  /** An http(s) image URL (e.g. the image_url of POST /upload-files/image). */
  @ApiPropertyOptional({ maxLength: 500, default: '' })
  @IsOptional()
  @MaxLength(500, { message: 'icon must be at most 500 characters' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'icon must be an http(s) URL' },
  )
  icon?: string;

  /**
   * What the dataset is about; agents use it as the retrieval tool's description. Empty: a
   * default naming the dataset.
   */
  @ApiPropertyOptional({ maxLength: 2000, default: '' })
  @IsOptional()
  @trim()
  @MaxLength(2000, { message: 'description must be at most 2000 characters' })
  @IsString({ message: 'description must be a string' })
  description?: string;

  /**
   * `high_quality` (embeddings and keywords; needs an embedding model) or `economy` (keywords
   * only, no model). Fixed once the dataset has documents.
   */
  @ApiPropertyOptional({ enum: ['high_quality', 'economy'], default: 'high_quality' })
  @IsOptional()
  @IsIn(['high_quality', 'economy'], { message: 'indexing_mode must be high_quality or economy' })
  indexing_mode?: 'high_quality' | 'economy';

  /** `provider/model` of an embedding model in the catalog; default DATASET_EMBEDDING_MODEL. */
  @ApiPropertyOptional({ example: 'openai/text-embedding-3-small' })
  @IsOptional()
  @Matches(/^[a-z0-9_]+\/[\w.:/@-]{1,200}$/, {
    message: 'embedding_model must be provider/model, e.g. openai/text-embedding-3-small',
  })
  embedding_model?: string;

  @ApiPropertyOptional({ type: RetrievalConfigDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => RetrievalConfigDto)
  retrieval_config?: RetrievalConfigDto;
}

export class UpdateDatasetDto extends CreateDatasetDto {}

export class DatasetDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty() document_count: number;
  /** Retrievals that returned one of its segments. */
  @ApiProperty() hit_count: number;
  /** Apps that use it. */
  @ApiProperty() related_app_count: number;
  @ApiProperty() character_count: number;
  @ApiProperty({ enum: ['high_quality', 'economy'] }) indexing_mode: string;
  /** `provider/model`, empty in economy mode. */
  @ApiProperty() embedding_model: string;
  @ApiProperty({ type: RetrievalConfigDto }) retrieval_config: RetrievalConfigDto;
  @ApiProperty() updated_at: number;
  @ApiProperty() created_at: number;
}
