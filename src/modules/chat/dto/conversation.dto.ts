import { PaginatorReqDto, ToBoolean, ToInt } from '@app/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
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

/** The body of every agent chat (debugger, assistant): the console may add `image_urls`. */
export class AgentChatReqDto {
  @ApiProperty({ maxLength: 10000, description: 'The question' })
  @MaxLength(10000, { message: 'query must be at most 10000 characters' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsNotEmpty({ message: 'query is required' })
  @IsString({ message: 'query must be a string' })
  query: string;

  @ApiPropertyOptional({
    type: [String],
    maxItems: 5,
    default: [],
    description:
      'Images of the question (http(s) URLs, at most 5); sent to models with the image_input feature',
  })
  @IsOptional()
  @ArrayMaxSize(5, { message: 'image_urls holds at most 5 images' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { each: true, message: 'image_urls must be http(s) URLs' },
  )
  @IsArray({ message: 'image_urls must be an array' })
  image_urls?: string[];
}

export class SummaryDto {
  @ApiProperty({ description: 'The debug conversation’s long-term memory ("" if none)' })
  summary: string;
}

export class UpdateSummaryReqDto {
  @ApiPropertyOptional({ default: '', maxLength: 10000, description: 'The new summary' })
  @IsOptional()
  @MaxLength(10000, { message: 'summary must be at most 10000 characters' })
  @IsString({ message: 'summary must be a string' })
  summary?: string;
}
