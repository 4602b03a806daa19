import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class SetCredentialDto {
  /** The provider's API key; omit to keep the stored one (e.g. to change only base_url). */
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @MaxLength(500, { message: 'api_key must be at most 500 characters' })
  @IsString({ message: 'api_key must be a string' })
  api_key?: string;

  /** API base URL; empty means the provider's default (required for openai_compatible). */
  @ApiPropertyOptional({ maxLength: 500, example: 'https://api.openai.com/v1' })
  @IsOptional()
  @MaxLength(500, { message: 'base_url must be at most 500 characters' })
  @IsString({ message: 'base_url must be a string' })
  base_url?: string;

  /** OpenAI organization id (OpenAI only). */
  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @MaxLength(100, { message: 'organization must be at most 100 characters' })
  @IsString({ message: 'organization must be a string' })
  organization?: string;
}

export class TestCredentialDto {
  /** Model to call for the test; defaults to the provider's first chat model. */
  @ApiPropertyOptional()
  @IsOptional()
  @MaxLength(200, { message: 'model must be at most 200 characters' })
  @IsString({ message: 'model must be a string' })
  model?: string;
}

export class CredentialDto {
  @ApiProperty() provider: string;
  @ApiProperty() label: string;
  /** Whether calls to this provider can be made. */
  @ApiProperty() configured: boolean;
  /** `account` (yours), `server` (the server's defaults) or `none`. */
  @ApiProperty({ enum: ['account', 'server', 'none'] }) source: 'account' | 'server' | 'none';
  /** Masked key of your credential; empty for server defaults. */
  @ApiProperty() api_key: string;
  @ApiProperty() base_url: string;
  @ApiProperty() organization: string;
  /** Which fields the provider takes. */
  @ApiProperty() fields: { api_key: string; base_url: string; organization?: string };
  @ApiProperty() last_tested_at: number;
  @ApiProperty({ nullable: true, enum: ['ok', 'failed'] }) last_test_status: 'ok' | 'failed' | null;
  @ApiProperty({ nullable: true }) last_test_error: string | null;
}

export class CredentialTestResultDto {
  @ApiProperty() ok: boolean;
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty() latency_ms: number;
  @ApiProperty({ nullable: true }) error: string | null;
}
