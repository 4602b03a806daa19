import { SearchPaginatorReqDto, ToBoolean } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export class PreProcessRuleDto {
  @ApiProperty({ enum: ['remove_extra_space', 'remove_url_and_email'] })
  @IsIn(['remove_extra_space', 'remove_url_and_email'], {
    message: 'pre_process_rules[].id must be remove_extra_space or remove_url_and_email',
  })
  id: 'remove_extra_space' | 'remove_url_and_email';

  @ApiProperty()
  @IsBoolean({ message: 'pre_process_rules[].enabled must be true or false' })
  enabled: boolean;
}

export class SegmentRuleDto {
  /** Regular expressions tried in order to cut the text ("\n\n", "\n", "。|！|？", …, ""). */
  @ApiProperty({ type: [String], maxItems: 20 })
  @IsString({ each: true, message: 'segment.separators must be strings' })
  @MaxLength(50, { each: true, message: 'each separator must be at most 50 characters' })
  @ArrayMaxSize(20, { message: 'segment.separators may have at most 20 entries' })
  @ArrayMinSize(1, { message: 'segment.separators must not be empty' })
  @IsArray({ message: 'segment.separators must be an array' })
  separators: string[];

  /** Tokens per segment, 100-1000. */
  @ApiProperty({ minimum: 100, maximum: 1000 })
  @Max(1000, { message: 'segment.chunk_size must be at most 1000' })
  @Min(100, { message: 'segment.chunk_size must be at least 100' })
  @IsInt({ message: 'segment.chunk_size must be an integer' })
  chunk_size: number;

  /** Tokens shared by neighbouring segments, 0 to chunk_size/2. */
  @ApiProperty({ minimum: 0 })
  @Min(0, { message: 'segment.chunk_overlap must be at least 0' })
  @IsInt({ message: 'segment.chunk_overlap must be an integer' })
  chunk_overlap: number;
}

export class ProcessRuleDto {
  @ApiProperty({ type: [PreProcessRuleDto] })
  @ValidateNested({ each: true })
  @Type(() => PreProcessRuleDto)
  @ArrayMaxSize(2, { message: 'pre_process_rules has two entries' })
  @IsArray({ message: 'pre_process_rules must be an array' })
  pre_process_rules: PreProcessRuleDto[];

  @ApiProperty({ type: SegmentRuleDto })
  @ValidateNested()
  @Type(() => SegmentRuleDto)
  @IsNotEmpty({ message: 'segment is required' })
  segment: SegmentRuleDto;
}

export class CreateDocumentsDto {
  /** 1-10 ids from POST /upload-files/file (duplicates ignored). */
  @ApiProperty({ type: [String], format: 'uuid', minItems: 1, maxItems: 10 })
  @Transform(({ value }) => (Array.isArray(value) ? [...new Set(value)] : value))
  @IsUUID('all', { each: true, message: 'upload_file_ids must be file ids' })
  @ArrayMaxSize(10, { message: 'upload_file_ids may have at most 10 files' })
  @ArrayMinSize(1, { message: 'upload_file_ids must have at least one file' })
  @IsArray({ message: 'upload_file_ids must be an array' })
  upload_file_ids: string[];

  /** `automatic` uses the default rule; `custom` needs `rule`. */
  @ApiProperty({ enum: ['automatic', 'custom'] })
  @IsIn(['automatic', 'custom'], { message: 'process_type must be automatic or custom' })
  process_type: 'automatic' | 'custom';

  @ApiPropertyOptional({ type: ProcessRuleDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ProcessRuleDto)
  rule?: ProcessRuleDto;
}

export class CreatedDocumentDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() status: string;
  @ApiProperty() created_at: number;
}

export class CreateDocumentsResultDto {
  @ApiProperty({ type: [CreatedDocumentDto] }) documents: CreatedDocumentDto[];
  /** Poll GET /datasets/:id/documents/batch/:batch for progress. */
  @ApiProperty() batch: string;
}

export class BatchDocumentDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  /** Bytes of the uploaded file. */
  @ApiProperty() size: number;
  @ApiProperty() extension: string;
  @ApiProperty() mime_type: string;
  @ApiProperty() position: number;
  @ApiProperty() segment_count: number;
  @ApiProperty() completed_segment_count: number;
  @ApiProperty({ enum: ['waiting', 'parsing', 'splitting', 'indexing', 'completed', 'error'] })
  status: string;
  /** Why indexing failed; empty otherwise. */
  @ApiProperty() error: string;
  /** Unix seconds; 0 until reached. */
  @ApiProperty() processing_started_at: number;
  @ApiProperty() parsing_completed_at: number;
  @ApiProperty() splitting_completed_at: number;
  @ApiProperty() indexing_completed_at: number;
  @ApiProperty() completed_at: number;
  @ApiProperty() stopped_at: number;
  @ApiProperty() created_at: number;
}

export class ListDocumentsDto extends SearchPaginatorReqDto {}

export class DocumentDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() character_count: number;
  @ApiProperty() token_count: number;
  @ApiProperty() hit_count: number;
  @ApiProperty() position: number;
  @ApiProperty() enabled: boolean;
  /** Unix seconds; 0 when enabled. */
  @ApiProperty() disabled_at: number;
  @ApiProperty({ enum: ['waiting', 'parsing', 'splitting', 'indexing', 'completed', 'error'] })
  status: string;
  @ApiProperty() error: string;
  @ApiProperty() updated_at: number;
  @ApiProperty() created_at: number;
}

export class DocumentDetailDto extends DocumentDto {
  @ApiProperty({ format: 'uuid' }) dataset_id: string;
  @ApiProperty() segment_count: number;
}

export class SetEnabledDto {
  @ApiProperty()
  @ToBoolean()
  @IsBoolean({ message: 'enabled must be true or false' })
  enabled: boolean;
}

export class RenameDocumentDto {
  @ApiProperty({ maxLength: 100 })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  @IsNotEmpty({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  name: string;
}
