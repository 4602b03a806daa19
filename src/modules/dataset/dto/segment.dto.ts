import { SearchPaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsNotEmpty,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';

export class ListSegmentsDto extends SearchPaginatorReqDto {}

export class SegmentBodyDto {
  /** At most 1000 tokens. */
  @ApiProperty({ maxLength: 20000 })
  @MaxLength(20000, { message: 'content must be at most 1000 tokens' })
  @IsNotEmpty({ message: 'content is required' })
  @IsString({ message: 'content must be a string' })
  content: string;

  /** Up to 10, duplicates dropped; empty: 10 extracted from the content. */
  @ApiPropertyOptional({ type: [String], maxItems: 10, default: [] })
  @IsOptional()
  @Transform(({ value }) =>
    Array.isArray(value)
      ? [
          ...new Set(
            value.map((k) => (typeof k === 'string' ? k.trim() : k)).filter((k) => k !== ''),
          ),
        ]
      : value,
  )
  @MaxLength(50, { each: true, message: 'each keyword must be at most 50 characters' })
  @IsString({ each: true, message: 'keywords must be strings' })
  @ArrayMaxSize(10, { message: 'keywords may have at most 10 entries' })
  @IsArray({ message: 'keywords must be an array' })
  keywords?: string[];
}

export class SegmentDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) document_id: string;
  @ApiProperty({ format: 'uuid' }) dataset_id: string;
  @ApiProperty() position: number;
  @ApiProperty() content: string;
  @ApiProperty({ type: [String] }) keywords: string[];
  @ApiProperty() character_count: number;
  @ApiProperty() token_count: number;
  @ApiProperty() hit_count: number;
  @ApiProperty() enabled: boolean;
  @ApiProperty() disabled_at: number;
  @ApiProperty({ enum: ['waiting', 'indexing', 'completed', 'error'] }) status: string;
  @ApiProperty() error: string;
  @ApiProperty() updated_at: number;
  @ApiProperty() created_at: number;
}

export class SegmentDetailDto extends SegmentDto {
  /** sha256 of the content. */
  @ApiProperty() hash: string;
}
