import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ToBoolean } from '@app/common';
import {
  IsBoolean,
  IsEmail,
  IsNotEmpty,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';

const trimLower = () =>
  Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value));

/**
 * An account email: required, valid, at most 254 characters, trimmed and lower-cased. Listed in
 * the order the checks report (applyDecorators applies top-down, stacked decorators bottom-up).
 */
const EmailField = (): PropertyDecorator =>
  applyDecorators(
    IsNotEmpty({ message: 'email is required' }),
    IsEmail({}, { message: 'email must be a valid email address' }),
    MaxLength(254, { message: 'email must be at most 254 characters' }),
    trimLower(),
    ApiProperty({ example: 'ada@example.com', description: 'Account email (case-insensitive)' }),
  );

export const PASSWORD_RULE = /^(?=.*[A-Za-z])(?=.*\d).{8,64}$/;
export const PASSWORD_MESSAGE =
  'password must be 8-64 characters with at least one letter and one digit';

/** What every sign-in (password, registration, OAuth) may ask for. */
export class SignInOptionsDto {
  /**
   * Also answer a `refresh_token` (for API clients that refresh through POST /auth/refresh).
   * Off by default: the console keeps the whole answer in localStorage and never refreshes, so a
   * 30-day token would only sit there for any script on the page to read.
   */
  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @ToBoolean()
  @IsBoolean({ message: 'with_refresh_token must be true or false' })
  with_refresh_token?: boolean;
}

export class PasswordLoginDto extends SignInOptionsDto {
  @EmailField()
  email: string;

  /** The password (any length is accepted here; the policy applies when it is set). */
  @ApiProperty({ example: 'correct horse 42' })
  @MaxLength(256, { message: 'password must be at most 256 characters' })
  @IsString({ message: 'password must be a string' })
  @IsNotEmpty({ message: 'password is required' })
  password: string;
}

export class RegisterDto extends SignInOptionsDto {
  @EmailField()
  email: string;

  @ApiProperty({ example: 'correct horse 42', description: PASSWORD_MESSAGE })
  @Matches(PASSWORD_RULE, { message: PASSWORD_MESSAGE })
  @IsString({ message: 'password must be a string' })
  @IsNotEmpty({ message: 'password is required' })
  password: string;

  @ApiProperty({ example: 'Ada', minLength: 1, maxLength: 30 })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @Length(1, 30, { message: 'name must be 1-30 characters' })
  @IsString({ message: 'name must be a string' })
  name: string;

  /**
   * The server's setup secret (INIT_PASSWORD). Required, when the server sets one, to register
   * before any admin exists; that account becomes the admin. Ignored otherwise.
   */
  @ApiPropertyOptional()
  @IsOptional()
  @MaxLength(256, { message: 'init_password must be at most 256 characters' })
  @IsString({ message: 'init_password must be a string' })
  init_password?: string;
}

export class RefreshDto {
  /** The refresh token from the last login or refresh; it is single-use. */
  @ApiProperty()
  @MaxLength(200, { message: 'refresh_token is not valid' })
  @IsString({ message: 'refresh_token must be a string' })
  @IsNotEmpty({ message: 'refresh_token is required' })
  refresh_token: string;
}

export class LoginResultDto {
  /** Bearer token for the console API. */
  @ApiProperty() access_token: string;
  /** When the access token expires, Unix seconds. */
  @ApiProperty({ example: 1767225600 }) expire_at: number;
  /**
   * Single-use token for POST /auth/refresh: only when the sign-in asked for it
   * (`with_refresh_token: true`), and always from POST /auth/refresh itself.
   */
  @ApiPropertyOptional() refresh_token?: string;
}

/** A sign-in's answer: the refresh token only for clients that asked for one. */
export function loginAnswer(
  tokens: { access_token: string; expire_at: number; refresh_token: string },
  withRefreshToken: boolean | undefined,
): LoginResultDto {
  const { access_token, expire_at, refresh_token } = tokens;
  return withRefreshToken
    ? { access_token, expire_at, refresh_token }
    : { access_token, expire_at };
}

export class OAuthRedirectDto {
  /** Where the browser goes to authorize. */
  @ApiProperty() redirect_url: string;
}

export class OAuthAuthorizeDto extends SignInOptionsDto {
  /** The `code` GitHub appended to the callback URL. */
  @ApiProperty()
  @MaxLength(512, { message: 'code is not valid' })
  @IsString({ message: 'code must be a string' })
  @IsNotEmpty({ message: 'code is required' })
  code: string;

  /** The `state` GitHub appended to the callback URL (checked when present). */
  @ApiPropertyOptional()
  @IsOptional()
  @MaxLength(512, { message: 'state is not valid' })
  @IsString({ message: 'state must be a string' })
  state?: string;
}
