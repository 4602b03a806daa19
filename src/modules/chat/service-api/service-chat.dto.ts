import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

/** The body of `POST /openapi/chat` (CONSOLE-SHAPES §4.12). */
export class ServiceChatReqDto {
  @ApiProperty({
    format: 'uuid',
    description: 'A published app of the key’s account (otherwise 404)',
  })
  @IsUUID('all', { message: 'app_id must be a UUID' })
  app_id: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'An end user of this app (returned by an earlier call); a new one is created when absent (404 when it is not an end user of this app)',
  })
  @IsOptional()
  @IsUUID('all', { message: 'end_user_id must be a UUID' })
  end_user_id?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'Continue a conversation: requires end_user_id; it must belong to this app, the service_api channel and that end user (otherwise 404). A new conversation is started when absent.',
  })
  @IsOptional()
  @IsUUID('all', { message: 'conversation_id must be a UUID' })
  conversation_id?: string;

  @ApiProperty({ maxLength: 10000, description: 'The question' })
  @MaxLength(10000, { message: 'query must be at most 10000 characters' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsNotEmpty({ message: 'query is required' })
  @IsString({ message: 'query must be a string' })
  query: string;

  @ApiPropertyOptional({
    default: true,
    description: 'true: the agent frames as SSE; false: one envelope with the whole answer',
  })
  @IsOptional()
  @IsBoolean({ message: 'stream must be a boolean' })
  stream?: boolean;
}

export class ServiceAgentThoughtDto {
  @ApiProperty() id: string;
  @ApiProperty({
    description:
      'agent_message, agent_thought, agent_action, dataset_retrieval, long_term_memory_recall, and the closing agent_end / stop',
  })
  event: string;
  @ApiProperty() thought: string;
  @ApiProperty() observation: string;
  @ApiProperty() tool: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) tool_input: Record<string, unknown>;
  @ApiProperty({ description: 'Seconds' }) latency: number;
  @ApiProperty({ description: 'Always 0, as the original' }) created_at: number;
}

/** The blocking answer (`stream: false`). */
export class ServiceChatResDto {
  @ApiProperty({ description: 'The message id' }) id: string;
  @ApiProperty() end_user_id: string;
  @ApiProperty() conversation_id: string;
  @ApiProperty() query: string;
  @ApiProperty() answer: string;
  @ApiProperty({ description: 'Prompt + completion tokens of every model call of the turn' })
  total_token_count: number;
  @ApiProperty({ description: 'Seconds' }) latency: number;
  @ApiProperty({ type: [ServiceAgentThoughtDto] }) agent_thoughts: ServiceAgentThoughtDto[];
}
