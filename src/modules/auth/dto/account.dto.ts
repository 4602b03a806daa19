import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { PASSWORD_MESSAGE, PASSWORD_RULE } from './auth.dto';

export class AccountDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() email: string;
  /** Avatar image URL; empty when unset. */
  @ApiProperty() avatar: string;
  /** `admin` or `member`. */
  @ApiProperty({ enum: ['admin', 'member'] }) role: string;
  /** Unix seconds; 0 when never. */
  @ApiProperty() last_login_at: number;
  @ApiProperty() last_login_ip: string;
  /** Unix seconds. */
  @ApiProperty() created_at: number;
}

export class UpdateNameDto {
  @ApiProperty({ minLength: 1, maxLength: 30 })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @Length(1, 30, { message: 'name must be 1-30 characters' })
  @IsString({ message: 'name must be a string' })
  name: string;
}

export class UpdateAvatarDto {
  /** An http(s) image URL, e.g. the image_url of POST /upload-files/image. */
  @ApiProperty({ maxLength: 500 })
  @MaxLength(500, { message: 'avatar must be at most 500 characters' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'avatar must be an http(s) URL' },
  )
  @IsNotEmpty({ message: 'avatar is required' })
  avatar: string;
}

export class UpdatePasswordDto {
  @ApiProperty({ description: PASSWORD_MESSAGE })
  @Matches(PASSWORD_RULE, { message: PASSWORD_MESSAGE })
  @IsString({ message: 'password must be a string' })
  @IsNotEmpty({ message: 'password is required' })
  password: string;

  /** The current password; checked when given (the session already proves identity). */
  @ApiPropertyOptional()
  @IsOptional()
  @MaxLength(256, { message: 'old_password must be at most 256 characters' })
  @IsString({ message: 'old_password must be a string' })
  old_password?: string;
}
