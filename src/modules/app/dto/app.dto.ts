import { SearchPaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNotEmpty, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';

const trim = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

export class ListAppsDto extends SearchPaginatorReqDto {}

/** The console posts its whole form model (with `fileList`); unknown keys are ignored. */
export class SaveAppDto {
  @ApiProperty({ maxLength: 40 })
  @trim()
  @MaxLength(40, { message: 'name must be at most 40 characters' })
  @IsNotEmpty({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  name: string;

  @ApiProperty({ maxLength: 1000, description: 'An http(s) image URL (a TLD is not required)' })
  @MaxLength(1000, { message: 'icon must be at most 1000 characters' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'icon must be an http(s) URL' },
  )
  @IsNotEmpty({ message: 'icon is required' })
  icon: string;

  @ApiPropertyOptional({ maxLength: 800, default: '' })
  @trim()
  @IsOptional()
  @MaxLength(800, { message: 'description must be at most 800 characters' })
  @IsString({ message: 'description must be a string' })
  description?: string;
}

export class CreatedAppDto {
  @ApiProperty({ format: 'uuid' }) id: string;
}

export class AppModelSummaryDto {
  @ApiProperty({ example: 'openai' }) provider: string;
  @ApiProperty({ example: 'gpt-4o-mini' }) model: string;
}

/** A row of the app list: the published config's prompt and model when published, else the draft's. */
export class AppListItemDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty({ description: 'Never null ("" when empty)' }) description: string;
  @ApiProperty() preset_prompt: string;
  @ApiProperty({ type: AppModelSummaryDto }) model_config: AppModelSummaryDto;
  @ApiProperty({ enum: ['draft', 'published'] }) status: 'draft' | 'published';
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class AppDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'The debug chat conversation; "" until there is one' })
  debug_conversation_id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ enum: ['draft', 'published'] }) status: 'draft' | 'published';
  @ApiProperty({ description: 'Unix seconds: last change of the draft config' })
  draft_updated_at: number;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}
