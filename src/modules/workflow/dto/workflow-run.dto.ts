import { PaginatorReqDto } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional } from 'class-validator';

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'stopped', 'timeout'] as const;

export class ListWorkflowRunsDto extends PaginatorReqDto {
  /** `""` means no filter, as on the other lists. */
  @ApiPropertyOptional({ enum: RUN_STATUSES })
  @Transform(({ value }) => (value === '' ? undefined : value))
  @IsOptional()
  @IsIn(RUN_STATUSES, { message: `status must be one of ${RUN_STATUSES.join(', ')}` })
  status?: (typeof RUN_STATUSES)[number];
}

export class WorkflowRunDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) workflow_id: string;
  @ApiProperty({
    enum: ['debug', 'published', 'tool', 'api'],
    description: 'debug: the draft from the editor; the others ran the published graph',
  })
  source: string;
  @ApiProperty({ enum: RUN_STATUSES }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The start inputs' })
  inputs: Record<string, unknown>;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "The end node's outputs ({} unless succeeded)",
  })
  outputs: Record<string, unknown>;
  @ApiProperty({ description: '"" unless the run failed, stopped or timed out' }) error: string;
  @ApiProperty({ description: 'Seconds' }) latency: number;
  @ApiProperty({ description: 'Unix seconds' }) started_at: number;
  @ApiProperty({ description: 'Unix seconds; 0 while running' }) finished_at: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class WorkflowNodeResultDto {
  @ApiProperty({ format: 'uuid', description: 'The debug frame id of this result' }) id: string;
  @ApiProperty() node_id: string;
  @ApiProperty() node_type: string;
  @ApiProperty() title: string;
  @ApiProperty({ enum: ['succeeded', 'failed', 'skipped'] }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) inputs: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) outputs: Record<string, unknown>;
  @ApiProperty({ description: 'The branch, class or `error` handle taken; "" for plain nodes' })
  handle: string;
  @ApiProperty({
    description: 'default_value or error_branch when the node failed and its strategy absorbed it',
  })
  handled_by: string;
  @ApiProperty() error: string;
  @ApiProperty({ description: 'Retries after the first attempt' }) retries: number;
  @ApiProperty({
    description: 'Model tokens the node used (prompt + completion); 0 without a model',
  })
  tokens: number;
  @ApiProperty({ description: 'Seconds' }) latency: number;
  @ApiProperty({ description: 'Unix seconds' }) started_at: number;
  @ApiProperty({ description: 'Unix seconds' }) finished_at: number;
}

export class WorkflowRunDetailDto extends WorkflowRunDto {
  @ApiProperty({ type: [WorkflowNodeResultDto], description: 'In the order the nodes finished' })
  results: WorkflowNodeResultDto[];
}
