import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional } from 'class-validator';

/** Body of the console's "test this tool" routes. */
export class InvokeToolDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: "The tool's arguments (what an LLM would fill in), checked against its schema",
    default: {},
  })
  @IsOptional()
  @IsObject({ message: 'arguments must be an object' })
  arguments?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Builtin tools only: the settings an app binds with the tool (defaults otherwise)',
    default: {},
  })
  @IsOptional()
  @IsObject({ message: 'params must be an object' })
  params?: Record<string, unknown>;
}

export class ToolResultDto {
  @ApiProperty({ description: 'Whether the tool succeeded' }) ok: boolean;
  @ApiProperty({
    description:
      'What a model would read: the result as text (JSON for objects) or `Error: <reason>`',
  })
  output: string;
  @ApiProperty({
    description: 'The result as the tool returned it; null on error',
    nullable: true,
    type: 'object',
    additionalProperties: true,
  })
  data: unknown;
  @ApiProperty({ description: 'Why the call failed; empty on success' }) error: string;
  @ApiProperty({ description: 'Milliseconds the call took' }) latency: number;
}
