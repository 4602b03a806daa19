import { SearchPaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { OPENAPI_LIMITS } from '../openapi/openapi-parser';

export const MAX_HEADERS = 20;
export const MAX_HEADER_VALUE = 4000;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]*$/;
/** No CR, LF or NUL: a header value must not start another header. */
const HEADER_VALUE = /^[^\r\n\0]*$/;

export class ListApiToolProvidersDto extends SearchPaginatorReqDto {}

export class ApiToolHeaderDto {
  @ApiProperty({ maxLength: 100, example: 'Authorization' })
  @Matches(HEADER_NAME, { message: 'headers[].key must be a valid HTTP header name' })
  // A blank row (empty key and value) is dropped, as the console's form may post one.
  @MaxLength(100, { message: 'headers[].key must be at most 100 characters' })
  @IsString({ message: 'headers[].key must be a string' })
  key: string;

  /** On update, the masked value read back (e.g. `Bear…`) keeps the stored secret. */
  @ApiProperty({ maxLength: MAX_HEADER_VALUE, example: 'Bearer sk-...' })
  @Matches(HEADER_VALUE, { message: 'headers[].value must not contain line breaks' })
  @MaxLength(MAX_HEADER_VALUE, {
    message: `headers[].value must be at most ${MAX_HEADER_VALUE} characters`,
  })
  @IsString({ message: 'headers[].value must be a string' })
  value: string;
}

export class OpenApiSchemaDto {
  /** The document as text (JSON or YAML): OpenAPI 3.0/3.1, Swagger 2.0 or the LLMOps format. */
  @ApiProperty({ maxLength: OPENAPI_LIMITS.maxChars })
  @MaxLength(OPENAPI_LIMITS.maxChars, {
    message: `openapi_schema must be at most ${OPENAPI_LIMITS.maxChars} characters`,
  })
  @IsNotEmpty({ message: 'openapi_schema is required' })
  @IsString({ message: 'openapi_schema must be a string (the document as text)' })
  openapi_schema: string;
}

export class SaveApiToolProviderDto extends OpenApiSchemaDto {
  /** Unique in your account. */
  @ApiProperty({ minLength: 1, maxLength: 30 })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @Length(1, 30, { message: 'name must be 1-30 characters' })
  @IsString({ message: 'name must be a string' })
  name: string;

  @ApiProperty({ maxLength: 1000, description: 'An http(s) image URL' })
  @MaxLength(1000, { message: 'icon must be at most 1000 characters' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'icon must be an http(s) URL' },
  )
  @IsNotEmpty({ message: 'icon is required' })
  icon: string;

  /** Sent with every call of the provider's tools (auth); stored sealed, read back masked. */
  @ApiPropertyOptional({ type: [ApiToolHeaderDto], default: [], maxItems: MAX_HEADERS })
  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => ApiToolHeaderDto)
  @ArrayMaxSize(MAX_HEADERS, { message: `headers must have at most ${MAX_HEADERS} items` })
  @IsArray({ message: 'headers must be an array of {key, value}' })
  headers?: ApiToolHeaderDto[];
}

export class ApiToolHeaderViewDto {
  @ApiProperty() key: string;
  /** Masked: the first characters and `…`. */
  @ApiProperty() value: string;
}

export class ApiToolInputDto {
  @ApiProperty() name: string;
  @ApiProperty() description: string;
  @ApiProperty() required: boolean;
  @ApiProperty({ enum: ['str', 'int', 'float', 'bool'] }) type: 'str' | 'int' | 'float' | 'bool';
}

export class ApiToolSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  /** The operationId. */
  @ApiProperty() name: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [ApiToolInputDto] }) inputs: ApiToolInputDto[];
  /** Ours: the HTTP method and path, for display. */
  @ApiProperty() method: string;
  @ApiProperty() path: string;
}

export class ApiToolProviderListItemDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [ApiToolHeaderViewDto] }) headers: ApiToolHeaderViewDto[];
  @ApiProperty({ type: [ApiToolSummaryDto] }) tools: ApiToolSummaryDto[];
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class ApiToolProviderDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  /** The document as it was given. */
  @ApiProperty() openapi_schema: string;
  @ApiProperty({ type: [ApiToolHeaderViewDto] }) headers: ApiToolHeaderViewDto[];
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
}

export class ApiToolProviderRefDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [ApiToolHeaderViewDto] }) headers: ApiToolHeaderViewDto[];
}

export class ApiToolDetailDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [ApiToolInputDto] }) inputs: ApiToolInputDto[];
  @ApiProperty() method: string;
  @ApiProperty() path: string;
  @ApiProperty() server_url: string;
  /** The JSON Schema the arguments are checked against. */
  @ApiProperty({ type: 'object', additionalProperties: true }) input_schema: Record<
    string,
    unknown
  >;
  @ApiProperty({ type: ApiToolProviderRefDto }) provider: ApiToolProviderRefDto;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class ValidateOpenApiSchemaResultDto {
  /** `openapi-3.0`, `openapi-3.1`, `swagger-2.0` or `llmops`. */
  @ApiProperty() format: string;
  @ApiProperty() description: string;
  /** The tools the document would give (operationIds). */
  @ApiProperty({ type: [String] }) tools: string[];
}

export class CreatedApiToolProviderDto {
  @ApiProperty({ format: 'uuid' }) id: string;
}
