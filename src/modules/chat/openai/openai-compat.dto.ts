import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Swagger shapes of the OpenAI-compatible routes (bodies are checked by EmbeddingsRequest). */
export class EmbeddingsReqDto {
  @ApiProperty({
    description:
      'An embedding model: `provider/model` (e.g. `openai/text-embedding-3-small`) or a model name the catalog knows',
  })
  model: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description:
      'A text or up to 2048 texts (each at most 32,768 characters); token arrays are not accepted',
  })
  input: string | string[];

  @ApiPropertyOptional({ enum: ['float', 'base64'], default: 'float' })
  encoding_format?: 'float' | 'base64';

  @ApiPropertyOptional({ description: 'Passed through to OpenAI-style clients; not used' })
  user?: string;
}

export class EmbeddingItemDto {
  @ApiProperty({ enum: ['embedding'] }) object: 'embedding';
  @ApiProperty() index: number;
  @ApiProperty({
    oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }],
    description: 'Floats, or base64 of little-endian float32 when encoding_format is base64',
  })
  embedding: number[] | string;
}

export class EmbeddingsUsageDto {
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() total_tokens: number;
}

export class EmbeddingsResDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [EmbeddingItemDto] }) data: EmbeddingItemDto[];
  @ApiProperty() model: string;
  @ApiProperty({ type: EmbeddingsUsageDto }) usage: EmbeddingsUsageDto;
}

export class ModelItemDto {
  @ApiProperty({ description: 'The app id (use it as `model` in /v1/chat/completions)' })
  id: string;
  @ApiProperty({ enum: ['model'] }) object: 'model';
  @ApiProperty({ description: 'Unix seconds' }) created: number;
  @ApiProperty({ description: 'The app name' }) owned_by: string;
}

export class ModelListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ModelItemDto] }) data: ModelItemDto[];
}

/** Swagger shape of `/v1/chat/completions` (the body is checked by OpenAiChatService.check). */
export class ChatCompletionMessageDto {
  @ApiProperty({ enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'] })
  role: string;
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            type: { enum: ['text', 'image_url'] },
            text: { type: 'string' },
            image_url: { type: 'object', properties: { url: { type: 'string' } } },
          },
        },
      },
    ],
    description:
      'A string or text parts; a user message may add image_url parts (http(s) URLs, no data: URLs): those of the last message (at most 5) go to models with the image_input feature. Audio is not accepted.',
  })
  content:
    | string
    | Array<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } }>;
}

export class ChatCompletionStreamOptionsDto {
  @ApiPropertyOptional({ description: 'Send a last chunk with `usage` (and `choices: []`)' })
  include_usage?: boolean;
}

export class ChatCompletionReqDto {
  @ApiProperty({
    description:
      'The id of a published app of the key’s account (GET /v1/models); otherwise 404 model_not_found',
  })
  model: string;

  @ApiProperty({
    type: [ChatCompletionMessageDto],
    description:
      '1 to 200 messages; the last one must be a user message (the query, at most 10,000 characters). Earlier user/assistant pairs are the turn’s memory (cut to the app’s dialog_round and the model’s context window); system, developer and tool messages are not sent: the app’s own prompt, model, tools and datasets answer',
  })
  messages: ChatCompletionMessageDto[];

  @ApiPropertyOptional({ default: false }) stream?: boolean;
  @ApiPropertyOptional({ type: ChatCompletionStreamOptionsDto })
  stream_options?: ChatCompletionStreamOptionsDto;

  @ApiPropertyOptional({
    description:
      'An end user id of this app (the X-End-User-Id header of an earlier answer): the call is recorded for that end user; any other value, or none, makes a new end user. At most 256 characters',
  })
  user?: string;

  @ApiPropertyOptional({
    description:
      'Only 1. Sampling parameters (temperature, max_tokens, …) are accepted and ignored: the app’s published model config applies',
  })
  n?: number;
}

export class ChatCompletionUsageDto {
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() completion_tokens: number;
  @ApiProperty() total_tokens: number;
}

export class ChatCompletionChoiceDto {
  @ApiProperty() index: number;
  @ApiProperty({
    type: 'object',
    properties: { role: { enum: ['assistant'] }, content: { type: 'string' } },
  })
  message: { role: 'assistant'; content: string };
  @ApiProperty({ enum: ['stop'] }) finish_reason: string;
}

export class ChatCompletionResDto {
  @ApiProperty({ description: '`chatcmpl-<message id>`' }) id: string;
  @ApiProperty({ enum: ['chat.completion'] }) object: string;
  @ApiProperty({ description: 'Unix seconds' }) created: number;
  @ApiProperty({ description: 'The app id' }) model: string;
  @ApiProperty({ type: [ChatCompletionChoiceDto] }) choices: ChatCompletionChoiceDto[];
  @ApiProperty({ type: ChatCompletionUsageDto }) usage: ChatCompletionUsageDto;
}
