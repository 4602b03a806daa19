import { SearchPaginatorReqDto, ToBoolean } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';

export class ListApiKeysDto extends SearchPaginatorReqDto {}

export class CreateApiKeyDto {
  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @ToBoolean()
  @IsBoolean({ message: 'is_active must be true or false' })
  is_active?: boolean;

  /** A note to tell keys apart. */
  @ApiPropertyOptional({ maxLength: 100, default: '' })
  @IsOptional()
  @MaxLength(100, { message: 'remark must be at most 100 characters' })
  @IsString({ message: 'remark must be a string' })
  remark?: string;
}

export class UpdateApiKeyDto extends CreateApiKeyDto {}

export class UpdateApiKeyActiveDto {
  @ApiProperty()
  @ToBoolean()
  @IsBoolean({ message: 'is_active must be true or false' })
  is_active: boolean;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  /**
   * The full key, shown to its owner (the console copies it from the list row). Keys created
   * before keys were stored sealed can only be shown masked (`llmops-v1/AbCd…wXyZ`): see `is_masked`.
   */
  @ApiProperty() api_key: string;
  /** True when `api_key` is only a masked hint (a key created before sealing): replace the key to get a copyable one. */
  @ApiProperty() is_masked: boolean;
  @ApiProperty() is_active: boolean;
  @ApiProperty() remark: string;
  /** Unix seconds; 0 when never used. */
  @ApiProperty() last_used_at: number;
  @ApiProperty() updated_at: number;
  @ApiProperty() created_at: number;
}
