import { PaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';

export class CreateDownloadReqDto {
  @ApiProperty({
    enum: ['huggingface', 'ollama'],
    description:
      'Where to download from: `huggingface` fetches the files into MODELS_DIR (Hugging Face ' +
      'cache layout); `ollama` has the local Ollama (OLLAMA_BASE_URL) pull the model into its own store',
  })
  @IsIn(['huggingface', 'ollama'], { message: 'source must be huggingface or ollama' })
  source: 'huggingface' | 'ollama';

  @ApiProperty({
    maxLength: 200,
    description:
      'Hugging Face: the repository id, owner/name. Ollama: the model name, `name`, `name:tag` ' +
      'or `namespace/name:tag` (no registry host); stored as Ollama lists it, e.g. `llama3.2:latest`',
  })
  @IsString({ message: 'model_id must be a string' })
  @MinLength(1, { message: 'model_id must not be empty' })
  @MaxLength(200, { message: 'model_id must be at most 200 characters' })
  model_id: string;

  @ApiPropertyOptional({
    maxLength: 200,
    description:
      'Hugging Face: branch, tag or commit; default main. Ollama: the tag (default the one in ' +
      'model_id, else latest); must agree with a tag given in model_id',
  })
  @IsOptional()
  @IsString({ message: 'revision must be a string' })
  @MaxLength(200, { message: 'revision must be at most 200 characters' })
  revision?: string;

  @ApiPropertyOptional({
    type: [String],
    maxItems: 50,
    description:
      'Hugging Face only: globs of the files to fetch (`*` within a folder, `**` across folders, ' +
      '`?` one character); default every file. Ollama pulls every layer of a model: globs are a validate_error',
  })
  @IsOptional()
  @IsArray({ message: 'files must be an array of globs' })
  @ArrayMaxSize(50, { message: 'files takes at most 50 globs' })
  @IsString({ each: true, message: 'files must be strings' })
  @MaxLength(300, { each: true, message: 'a glob is at most 300 characters' })
  files?: string[];
}

export class ListDownloadsReqDto extends PaginatorReqDto {
  @ApiPropertyOptional({
    enum: ['pending', 'downloading', 'paused', 'completed', 'failed', 'cancelled'],
    description: 'Only tasks in this status',
  })
  @IsOptional()
  @IsIn(['pending', 'downloading', 'paused', 'completed', 'failed', 'cancelled'], {
    message: 'status is not a download status',
  })
  status?: string;
}

export class DownloadFileDto {
  @ApiProperty({ description: 'Path in the repository; for Ollama the layer digest (sha256:...)' })
  path: string;
  @ApiProperty({ description: 'Bytes' }) size: number;
  @ApiProperty({ description: 'Bytes on disk so far' }) downloaded: number;
  @ApiProperty({ enum: ['pending', 'downloading', 'verifying', 'done'] }) status: string;
}

export class DownloadTaskDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid', description: 'The admin who started it' }) account_id: string;
  @ApiProperty({ enum: ['huggingface', 'ollama'] }) source: string;
  @ApiProperty({
    description: 'owner/name (Hugging Face); name:tag or namespace/name:tag (Ollama)',
  })
  model_id: string;
  @ApiProperty({ description: 'Branch, tag or commit asked for; for Ollama the tag' })
  revision: string;
  @ApiProperty({
    description:
      'Commit sha it resolved to; for Ollama the tag (Ollama resolves it during the pull)',
  })
  commit: string;
  @ApiProperty({ type: [String], description: 'Globs asked for (empty: every file)' })
  file_patterns: string[];
  @ApiProperty({
    enum: ['pending', 'downloading', 'paused', 'completed', 'failed', 'cancelled'],
  })
  status: string;
  @ApiProperty({ description: '0..100' }) progress: number;
  @ApiProperty({ description: 'Bytes' }) downloaded_size: number;
  @ApiProperty({ description: 'Bytes' }) total_size: number;
  @ApiProperty({ description: 'Bytes per second' }) speed: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Seconds left' }) eta: number | null;
  @ApiProperty({ description: 'Why it failed; empty otherwise' }) error: string;
  @ApiProperty({
    type: [DownloadFileDto],
    description:
      'Per-file progress; for Ollama one entry per layer, added as Ollama announces them (so ' +
      'total_size grows during a pull, while progress never goes back)',
  })
  files: DownloadFileDto[];
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Place among pending tasks (1 = next); null when not pending',
  })
  queue_position: number | null;
  @ApiProperty({
    description:
      'Snapshot folder (Hugging Face cache layout); empty for Ollama, which keeps the model in ' +
      'its own store (use model_id with Ollama)',
  })
  local_path: string;
  @ApiProperty({ type: Number, nullable: true }) started_at: number | null;
  @ApiProperty({ type: Number, nullable: true }) finished_at: number | null;
  @ApiProperty() created_at: number;
  @ApiProperty() updated_at: number;
}

export class DownloadQueueDto {
  @ApiProperty({ type: [DownloadTaskDto], description: 'Downloading now' })
  active: DownloadTaskDto[];
  @ApiProperty({ type: [DownloadTaskDto], description: 'Waiting, in order (queue_position)' })
  pending: DownloadTaskDto[];
  @ApiProperty({ description: 'DOWNLOAD_MAX_TASKS' }) max_active: number;
}

export class DownloadStorageDto {
  @ApiProperty({ description: 'MODELS_DIR (empty for members)' }) models_dir: string;
  @ApiProperty({ description: 'Bytes of files under MODELS_DIR (links not followed)' })
  used_bytes: number;
  @ApiProperty({ description: 'Bytes free on its file system' }) free_bytes: number;
  @ApiProperty({ description: 'Bytes of its file system' }) total_bytes: number;
}
