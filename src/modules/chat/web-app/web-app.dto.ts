import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import { AgentChatReqDto } from '../dto/conversation.dto';

class EnableFlagDto {
  @ApiProperty() enable: boolean;
}

class TextToSpeechDto {
  @ApiProperty() enable: boolean;
  @ApiProperty({ description: 'The speech voice, e.g. echo' }) voice: string;
  @ApiProperty() auto_play: boolean;
}

export class WebAppConfigDto {
  @ApiProperty() opening_statement: string;
  @ApiProperty({ type: [String] }) opening_questions: string[];
  @ApiProperty({ type: EnableFlagDto, description: 'Suggested questions after each answer' })
  suggested_after_answer: EnableFlagDto;
  @ApiProperty({
    type: TextToSpeechDto,
    description: 'Always sent: the console reads it unguarded after every turn',
  })
  text_to_speech: TextToSpeechDto;
  @ApiProperty({ type: EnableFlagDto }) speech_to_text: EnableFlagDto;
  @ApiProperty({
    type: [String],
    enum: ['tool_call', 'agent_thought', 'image_input'],
    description:
      'The published model’s features from the model catalog; image_input enables image upload',
  })
  features: string[];
}

export class WebAppDto {
  @ApiProperty({ format: 'uuid', description: 'The app id' }) id: string;
  @ApiProperty() icon: string;
  @ApiProperty() name: string;
  @ApiProperty() description: string;
  @ApiProperty({
    type: WebAppConfigDto,
    description: 'What the page needs of the published config',
  })
  app_config: WebAppConfigDto;
}

/** `conversation_id` is `""` (or absent) for a new conversation. */
export class WebAppChatReqDto extends AgentChatReqDto {
  @ApiPropertyOptional({
    default: '',
    description:
      'The web-app conversation to continue (this app, this visitor, not deleted; else forbidden); "" starts a new one named "New Conversation"',
  })
  @IsOptional()
  @MaxLength(64, { message: 'conversation_id must be a conversation id' })
  @IsString({ message: 'conversation_id must be a string' })
  conversation_id?: string;
}

export class ListWebAppConversationsReqDto {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'Only pinned (true) or only unpinned (false) conversations; absent or "" = both',
  })
  // Query booleans come as strings; an empty filter is absent.
  @Transform(({ value }: { value: unknown }) =>
    value === '' ? undefined : value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsOptional()
  @IsBoolean({ message: 'is_pinned must be true or false' })
  is_pinned?: boolean;
}

export class WebAppConversationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'Long-term memory summary ("" if none)' }) summary: string;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}
