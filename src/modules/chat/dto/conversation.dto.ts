import { PaginatorReqDto, ToBoolean, ToInt } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

export class ListMessagesReqDto extends PaginatorReqDto {
  @ApiPropertyOptional({
    minimum: 0,
    default: 0,
    description:
      'Cursor: only messages created at or before this Unix time (seconds); 0 means no cursor',
  })
  @ToInt()
  @IsOptional()
  @Max(2 ** 31 - 1, { message: 'created_at must be a Unix time in seconds' })
  @Min(0, { message: 'created_at must be at least 0' })
  @IsInt({ message: 'created_at must be an integer' })
  created_at?: number;
}

export class UpdateConversationNameReqDto {
  @ApiProperty({ maxLength: 100, description: 'The new name' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  @IsNotEmpty({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  name: string;
}

export class UpdateConversationPinReqDto {
  @ApiPropertyOptional({ default: false, description: 'Pin (true) or unpin (false)' })
  @IsOptional()
  @ToBoolean()
  @IsBoolean({ message: 'is_pinned must be true or false' })
  is_pinned?: boolean;
}

export class ConversationNameDto {
  @ApiProperty() name: string;
}

export class AgentThoughtDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Order within the message' }) position: number;
  @ApiProperty({
    enum: [
      'long_term_memory_recall',
      'agent_thought',
      'agent_action',
      'dataset_retrieval',
      'agent_message',
    ],
  })
  event: string;
  @ApiProperty() thought: string;
  @ApiProperty() observation: string;
  @ApiProperty({ description: 'Tool name, for agent_action' }) tool: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) tool_input: Record<string, unknown>;
  @ApiProperty({ description: 'Seconds' }) latency: number;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class MessageItemDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) conversation_id: string;
  @ApiProperty() query: string;
  @ApiProperty({ type: [String] }) image_urls: string[];
  @ApiProperty() answer: string;
  @ApiProperty() total_token_count: number;
  @ApiProperty({ description: 'Seconds' }) latency: number;
  @ApiProperty({ type: [AgentThoughtDto] }) agent_thoughts: AgentThoughtDto[];
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}
