import { SearchPaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';

const trim = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

export class McpHeaderDto {
  @ApiProperty({ description: 'Header name, e.g. `Authorization`', maxLength: 100 })
  @IsString({ message: 'headers.key must be a string' })
  @Length(1, 100, { message: 'headers.key must be 1-100 characters' })
  // An HTTP token: a name fetch would refuse would fail every call later.
  @Matches(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'headers.key is not a valid header name' })
  key: string;

  @ApiProperty({
    description: 'Header value; on update, the masked value read back keeps the stored one',
    maxLength: 4000,
  })
  @IsString({ message: 'headers.value must be a string' })
  @MaxLength(4000, { message: 'headers.value must be at most 4000 characters' })
  // Line breaks would split the header (fetch refuses them at call time, far from the form).
  @Matches(/^[^\r\n\0]*$/, { message: 'headers.value must be on one line' })
  value: string;
}

/** Body of `POST /mcp-tools` and `POST /mcp-tools/:provider_id` (extra form keys are dropped). */
export class SaveMcpProviderDto {
  @ApiProperty({ description: 'Unique per account', minLength: 1, maxLength: 30 })
  @trim()
  @IsString({ message: 'name must be a string' })
  @Length(1, 30, { message: 'name must be 1-30 characters' })
  name: string;

  @ApiProperty({ description: 'Icon URL', maxLength: 1000 })
  @trim()
  @IsString({ message: 'icon must be a string' })
  @Length(1, 1000, { message: 'icon must be 1-1000 characters' })
  icon: string;

  @ApiProperty({
    description: 'The MCP endpoint (Streamable HTTP, or the SSE endpoint of an older server)',
    maxLength: 2000,
    example: 'https://mcp.example.com/mcp',
  })
  @trim()
  @IsString({ message: 'url must be a string' })
  @Length(1, 2000, { message: 'url must be 1-2000 characters' })
  url: string;

  @ApiPropertyOptional({
    description: "Shown in lists; empty uses the server's own instructions",
    maxLength: 500,
    default: '',
  })
  @IsOptional()
  @IsString({ message: 'description must be a string' })
  @MaxLength(500, { message: 'description must be at most 500 characters' })
  description?: string;

  @ApiPropertyOptional({
    type: [McpHeaderDto],
    description: 'Sent with every request to the server (sealed at rest, masked on read)',
    default: [],
  })
  @IsOptional()
  @IsArray({ message: 'headers must be an array' })
  @ArrayMaxSize(20, { message: 'headers can have at most 20 items' })
  @ValidateNested({ each: true })
  @Type(() => McpHeaderDto)
  headers?: McpHeaderDto[];
}

export class McpProvidersQueryDto extends SearchPaginatorReqDto {}

export class McpToolInputDto {
  @ApiProperty() name: string;
  @ApiProperty({ description: 'Empty when the schema has none' }) description: string;
  @ApiProperty() required: boolean;
  @ApiProperty({ enum: ['str', 'int', 'float', 'bool'], description: 'Python type name' })
  type: 'str' | 'int' | 'float' | 'bool';
}

export class McpToolItemDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: "The tool's name on the server" }) name: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [McpToolInputDto] }) inputs: McpToolInputDto[];
}

/** A list item and `GET /mcp-tools/:provider_id`: the API-tool item plus the server's state. */
export class McpProviderDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [McpHeaderDto], description: 'Values masked' }) headers: McpHeaderDto[];
  @ApiProperty({ type: () => [McpToolItemDto] }) tools: McpToolItemDto[];
  @ApiProperty() url: string;
  @ApiProperty({ enum: ['streamable_http', 'sse'] }) transport: string;
  @ApiProperty({
    enum: ['ok', 'error'],
    description: '`error` when the last connection to the server failed (see last_error)',
  })
  status: 'ok' | 'error';
  @ApiProperty({ nullable: true, type: String }) last_error: string | null;
  @ApiProperty({ description: 'Unix seconds of the last successful tool listing; 0 never' })
  tools_refreshed_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class McpToolProviderRefDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [McpHeaderDto], description: 'Values masked' }) headers: McpHeaderDto[];
}

/** `GET /mcp-tools/:provider_id/tools/:tool_name`. */
export class McpToolDetailDto extends McpToolItemDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "The tool's JSON Schema for its arguments",
  })
  input_schema: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'MCP annotations' })
  annotations: Record<string, unknown>;
  @ApiProperty({ type: McpToolProviderRefDto }) provider: McpToolProviderRefDto;
}
