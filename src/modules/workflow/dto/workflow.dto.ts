import { SearchPaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  MaxLength,
} from 'class-validator';
import { GRAPH_LIMITS } from '../graph/graph.types';

const trim = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

/** A function name for apps and agents: a letter or `_`, then letters, digits and `_`. */
export const TOOL_CALL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class ListWorkflowsDto extends SearchPaginatorReqDto {
  /** `""` (what the list page sends) means no filter. */
  @ApiPropertyOptional({ enum: ['draft', 'published'] })
  @Transform(({ value }) => (value === '' ? undefined : value))
  @IsOptional()
  @IsIn(['draft', 'published'], { message: 'status must be draft or published' })
  status?: 'draft' | 'published';
}

/** The console posts its whole form model (with `fileList`); unknown keys are ignored. */
export class SaveWorkflowDto {
  @ApiProperty({ maxLength: 50 })
  @trim()
  @MaxLength(50, { message: 'name must be at most 50 characters' })
  @IsNotEmpty({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  name: string;

  @ApiProperty({
    maxLength: 50,
    pattern: TOOL_CALL_NAME.source,
    description: 'The function name apps and agents call it by; unique among your workflows',
  })
  @trim()
  @Matches(TOOL_CALL_NAME, {
    message: 'tool_call_name must start with a letter or _ and contain only letters, digits and _',
  })
  @MaxLength(50, { message: 'tool_call_name must be at most 50 characters' })
  @IsNotEmpty({ message: 'tool_call_name is required' })
  @IsString({ message: 'tool_call_name must be a string' })
  tool_call_name: string;

  @ApiProperty({ maxLength: 1000, description: 'An http(s) image URL' })
  @MaxLength(1000, { message: 'icon must be at most 1000 characters' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'icon must be an http(s) URL' },
  )
  @IsNotEmpty({ message: 'icon is required' })
  icon: string;

  /** What the workflow does: the tool description agents read. */
  @ApiProperty({ maxLength: 1024 })
  @trim()
  @MaxLength(1024, { message: 'description must be at most 1024 characters' })
  @IsNotEmpty({ message: 'description is required' })
  @IsString({ message: 'description must be a string' })
  description: string;
}

/**
 * A draft graph as the console saves it: only the outline is checked here (see normalizeDraft);
 * node and edge contents are kept as given.
 */
export class DraftGraphDto {
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Nodes: {id, node_type, title, description, position, ...type-specific fields}',
  })
  @IsOptional()
  @ArrayMaxSize(GRAPH_LIMITS.maxNodes, {
    message: `nodes must have at most ${GRAPH_LIMITS.maxNodes} items`,
  })
  @IsArray({ message: 'nodes must be an array' })
  nodes?: unknown[];

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Edges: {id, source, source_type, target, target_type, source_handle?}',
  })
  @IsOptional()
  @ArrayMaxSize(GRAPH_LIMITS.maxEdges, {
    message: `edges must have at most ${GRAPH_LIMITS.maxEdges} items`,
  })
  @IsArray({ message: 'edges must be an array' })
  edges?: unknown[];
}

export class WorkflowDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() tool_call_name: string;
  @ApiProperty() icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ enum: ['draft', 'published'] }) status: 'draft' | 'published';
  @ApiProperty() is_debug_passed: boolean;
  /** Detail: nodes of the draft; list: nodes of the published graph (0 if never published). */
  @ApiProperty() node_count: number;
  @ApiProperty({ description: 'Unix seconds; 0 when not published' }) published_at: number;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class CreatedWorkflowDto {
  @ApiProperty({ format: 'uuid' }) id: string;
}

export class DraftGraphViewDto {
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } })
  nodes: Record<string, unknown>[];
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } })
  edges: Record<string, unknown>[];
}
