import { PaginatorReqDto, TrimToUndefined } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

export const MODEL_SOURCES = ['huggingface', 'ollama'] as const;
export type ModelSource = (typeof MODEL_SOURCES)[number];
export const SORT_FIELDS = [
  'downloads',
  'likes',
  'created_at',
  'updated_at',
  'trending',
  'name',
  'size',
] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export class SearchModelsReqDto extends PaginatorReqDto {
  @ApiProperty({ enum: MODEL_SOURCES, description: 'Where to search' })
  @IsIn(MODEL_SOURCES, { message: 'source must be huggingface or ollama' })
  source: ModelSource;

  @ApiPropertyOptional({ maxLength: 200, description: 'Words to find in the model id' })
  @TrimToUndefined()
  @IsOptional()
  @IsString({ message: 'query must be a string' })
  @MaxLength(200, { message: 'query must be at most 200 characters' })
  query?: string;

  @ApiPropertyOptional({
    enum: SORT_FIELDS,
    description:
      'Hugging Face: downloads (default), likes, created_at, updated_at, trending. ' +
      'Ollama: name (default), size, updated_at',
  })
  @IsOptional()
  @IsIn(SORT_FIELDS, { message: `sort_by must be one of ${SORT_FIELDS.join(', ')}` })
  sort_by?: SortField;

  @ApiPropertyOptional({ enum: ['asc', 'desc'], default: 'desc' })
  @IsOptional()
  @IsIn(['asc', 'desc'], { message: 'sort_order must be asc or desc' })
  sort_order?: 'asc' | 'desc';
}

export class ModelInfoReqDto {
  @ApiProperty({ enum: MODEL_SOURCES, description: 'Where the model lives' })
  @IsIn(MODEL_SOURCES, { message: 'source must be huggingface or ollama' })
  source: ModelSource;

  @ApiProperty({
    maxLength: 200,
    description: 'Hugging Face repo id (owner/name) or Ollama model name (name:tag)',
    example: 'Qwen/Qwen2.5-0.5B-Instruct',
  })
  @IsString({ message: 'model_id must be a string' })
  @MaxLength(200, { message: 'model_id must be at most 200 characters' })
  model_id: string;

  @ApiPropertyOptional({
    maxLength: 200,
    description: 'Branch, tag or commit (Hugging Face; default main)',
  })
  @TrimToUndefined()
  @IsOptional()
  @IsString({ message: 'revision must be a string' })
  @MaxLength(200, { message: 'revision must be at most 200 characters' })
  revision?: string;
}

export class HubModelDto {
  @ApiProperty({ enum: MODEL_SOURCES }) source: ModelSource;
  @ApiProperty({ description: 'Repo id (owner/name) or Ollama name:tag' }) model_id: string;
  @ApiProperty({ description: 'Owner on Hugging Face; family on Ollama' }) author: string;
  @ApiProperty({ description: 'Downloads (Hugging Face; 0 for Ollama)' }) downloads: number;
  @ApiProperty({ description: 'Likes (Hugging Face; 0 for Ollama)' }) likes: number;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty({ description: 'Task, e.g. text-generation; empty when unknown' })
  pipeline_tag: string;
  @ApiProperty({ description: 'Access needs accepting terms (Hugging Face gated repo)' })
  gated: boolean;
  @ApiProperty({ description: 'Bytes on disk (Ollama); 0 when not given' }) size: number;
  @ApiProperty({ description: 'Last change, Unix seconds; 0 when unknown' }) updated_at: number;
}

export class HubFileDto {
  @ApiProperty({ description: 'Path in the repo' }) path: string;
  @ApiProperty({ description: 'Bytes' }) size: number;
  @ApiProperty({ description: 'SHA-256 of the content for LFS files; empty otherwise' })
  sha256: string;
  @ApiProperty({ description: 'Stored in LFS (large file)' }) lfs: boolean;
}

export class ModelInfoDto extends HubModelDto {
  @ApiProperty({ description: 'Commit the answer describes (Hugging Face) or digest (Ollama)' })
  revision: string;
  @ApiProperty({ type: [HubFileDto] }) files: HubFileDto[];
  @ApiProperty({ description: 'Sum of the file sizes (Hugging Face) or the model size (Ollama)' })
  total_size: number;
  @ApiProperty({ type: [String], description: 'Weight formats found: gguf, safetensors, ...' })
  formats: string[];
  @ApiProperty({ nullable: true, type: Number, description: 'Parameters, when the hub says' })
  parameter_count: number | null;
  @ApiProperty({ type: [String], description: 'Quantizations (e.g. Q4_K_M) found' })
  quantizations: string[];
  @ApiProperty({ nullable: true, type: Number, description: 'Context length, when the hub says' })
  context_length: number | null;
  @ApiProperty({ description: 'Library, e.g. transformers; empty when unknown' })
  library_name: string;
}
