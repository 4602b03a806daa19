import { SearchPaginatorReqDto, ToBoolean, ToInt, TrimToUndefined } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export const ENTRY_SOURCES = ['huggingface', 'ollama', 'local'] as const;
export const ENTRY_FORMATS = ['gguf', 'safetensors', 'other'] as const;
export const ENTRY_STATUSES = ['remote', 'downloaded'] as const;

export class ListModelsReqDto extends SearchPaginatorReqDto {
  @ApiPropertyOptional({ enum: ENTRY_SOURCES })
  @IsOptional()
  @IsIn(ENTRY_SOURCES, { message: 'source must be huggingface, ollama or local' })
  source?: (typeof ENTRY_SOURCES)[number];

  @ApiPropertyOptional({ enum: ENTRY_STATUSES })
  @IsOptional()
  @IsIn(ENTRY_STATUSES, { message: 'status must be remote or downloaded' })
  status?: (typeof ENTRY_STATUSES)[number];

  @ApiPropertyOptional({ enum: ENTRY_FORMATS, description: 'Weight format' })
  @IsOptional()
  @IsIn(ENTRY_FORMATS, { message: 'format must be gguf, safetensors or other' })
  format?: (typeof ENTRY_FORMATS)[number];

  @ApiPropertyOptional({
    maxLength: 64,
    description: 'Task (pipeline tag), see /models/categories',
  })
  @TrimToUndefined()
  @IsOptional()
  @IsString({ message: 'type must be a string' })
  @MaxLength(64, { message: 'type must be at most 64 characters' })
  type?: string;

  @ApiPropertyOptional({ description: "Only the caller's favorites" })
  @ToBoolean()
  @IsOptional()
  @IsBoolean({ message: 'favorite must be true or false' })
  favorite?: boolean;
}

export class TrendingReqDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 50, default: 20 })
  @ToInt()
  @IsOptional()
  @Max(50, { message: 'limit must be at most 50' })
  @Min(1, { message: 'limit must be at least 1' })
  @IsInt({ message: 'limit must be an integer' })
  limit: number = 20;
}

export class SyncModelsReqDto {
  @ApiProperty({ enum: ['ollama'], description: 'Source whose local models become entries' })
  @IsIn(['ollama'], { message: 'source must be ollama' })
  source: 'ollama';
}

export class ModelEntryDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ENTRY_SOURCES }) source: string;
  @ApiProperty({ description: 'Repo id, Ollama name:tag or local name' }) model_id: string;
  @ApiProperty() name: string;
  @ApiProperty() author: string;
  @ApiProperty({ enum: ENTRY_FORMATS }) format: string;
  @ApiProperty({ description: 'Task (pipeline tag); empty when unknown' }) pipeline_tag: string;
  @ApiProperty({ nullable: true, type: Number }) parameter_count: number | null;
  @ApiProperty({ description: 'e.g. Q4_K_M; empty when unknown' }) quantization: string;
  @ApiProperty({ nullable: true, type: Number }) context_length: number | null;
  @ApiProperty({ description: 'Bytes (local files, or the hub total)' }) size: number;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty() downloads: number;
  @ApiProperty() likes: number;
  @ApiProperty({ enum: ENTRY_STATUSES }) status: string;
  @ApiProperty({ description: 'Commit or digest of the local copy; empty when remote' })
  revision: string;
  @ApiProperty({ description: 'Snapshot directory; empty when remote' }) local_path: string;
  @ApiProperty({ description: "In the caller's favorites" }) is_favorite: boolean;
  @ApiProperty({ description: 'Unix seconds; 0 when never synced' }) last_synced_at: number;
  @ApiProperty() created_at: number;
  @ApiProperty() updated_at: number;
}

export class CategoryDto {
  @ApiProperty({ description: 'Task (pipeline tag)' }) name: string;
  @ApiProperty({ description: 'Entries with this task' }) count: number;
}

export class CountDto {
  @ApiProperty() name: string;
  @ApiProperty() count: number;
}

export class ModelStatsDto {
  @ApiProperty() total: number;
  @ApiProperty({ type: [CountDto] }) by_source: CountDto[];
  @ApiProperty({ type: [CountDto] }) by_status: CountDto[];
  @ApiProperty({ type: [CountDto] }) by_format: CountDto[];
  @ApiProperty({ description: 'Bytes of downloaded entries' }) local_size: number;
  @ApiProperty({ description: "The caller's favorites" }) favorites: number;
}

export class SyncResultDto {
  @ApiProperty({ description: 'Entries created or refreshed' }) synced: number;
  @ApiProperty({ description: 'Entries no longer present locally (now remote)' }) missing: number;
}
