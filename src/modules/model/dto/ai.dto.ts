import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength, ValidateIf } from 'class-validator';

export class OptimizePromptDto {
  /** The prompt to improve. */
  @ApiProperty({ maxLength: 2000 })
  @MaxLength(2000, { message: 'prompt must be at most 2000 characters' })
  @IsString({ message: 'prompt must be a string' })
  @IsNotEmpty({ message: 'prompt is required' })
  prompt: string;
}

export class AutoGeneratePromptDto {
  /** What the assistant should do, in a few words. */
  @ApiProperty({ maxLength: 1000, example: 'A travel planner that builds day-by-day itineraries' })
  @MaxLength(1000, { message: 'description must be at most 1000 characters' })
  @IsString({ message: 'description must be a string' })
  @IsNotEmpty({ message: 'description is required' })
  description: string;
}

export class SuggestedQuestionsDto {
  /** The message to follow up on (a message of one of your conversations). */
  @ApiPropertyOptional({ format: 'uuid' })
  @ValidateIf((o: SuggestedQuestionsDto) => o.query === undefined)
  @IsUUID('all', { message: 'message_id must be a UUID' })
  @IsNotEmpty({ message: 'message_id is required (or give query and answer)' })
  message_id?: string;

  /** Instead of message_id: the user's question of the exchange. */
  @ApiPropertyOptional({ maxLength: 4000 })
  @IsOptional()
  @MaxLength(4000, { message: 'query must be at most 4000 characters' })
  @IsString({ message: 'query must be a string' })
  query?: string;

  /** Instead of message_id: the assistant's answer of the exchange. */
  @ApiPropertyOptional({ maxLength: 8000 })
  @IsOptional()
  @MaxLength(8000, { message: 'answer must be at most 8000 characters' })
  @IsString({ message: 'answer must be a string' })
  answer?: string;
}

export class GeneratedPromptDto {
  @ApiProperty() prompt: string;
}
