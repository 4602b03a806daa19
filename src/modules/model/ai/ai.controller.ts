import { ApiEnvelope, ConsolePost, CurrentAccount, SseStream } from '@app/common';
import { AppConfig } from '@app/config';
import { Body, Controller, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  AutoGeneratePromptDto,
  GeneratedPromptDto,
  OptimizePromptDto,
  SuggestedQuestionsDto,
} from '../dto/ai.dto';
import { AiService } from './ai.service';

@ApiTags('ai')
@ApiBearerAuth('jwt')
@Controller('ai')
export class AiController {
  constructor(
    private readonly ai: AiService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Rewrites a prompt. SSE: `event: optimize_prompt` frames with `{optimize_prompt: <delta>}`;
   * the stream ends when done, or with an `error` frame.
   */
  @ConsolePost('optimize-prompt', 'Prompt optimized')
  @ApiProduces('text/event-stream')
  @ApiOperation({ operationId: 'optimizePrompt', summary: 'Optimize a prompt (SSE stream)' })
  async optimize(
    @CurrentAccount() accountId: string,
    @Body() body: OptimizePromptDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const sse = new SseStream(req, res, { pingIntervalMs: this.config.env.SSE_PING_INTERVAL_MS });
    await this.ai.optimizePrompt(accountId, body.prompt, sse);
  }

  /** Three follow-up questions for a message (or an inline query/answer). */
  @ConsolePost('suggested-questions', 'Suggested questions generated')
  @ApiOperation({ operationId: 'suggestedQuestions', summary: 'Suggest follow-up questions' })
  @ApiEnvelope(String, { isArray: true })
  suggested(
    @CurrentAccount() accountId: string,
    @Body() body: SuggestedQuestionsDto,
  ): Promise<string[]> {
    return this.ai.suggestedQuestions(accountId, body);
  }

  /** Writes a complete system prompt from a short description. */
  @ConsolePost('auto-generate-prompt', 'Prompt generated')
  @ApiOperation({
    operationId: 'autoGeneratePrompt',
    summary: 'Generate a prompt from a description',
  })
  @ApiEnvelope(GeneratedPromptDto)
  async generate(
    @CurrentAccount() accountId: string,
    @Body() body: AutoGeneratePromptDto,
  ): Promise<GeneratedPromptDto> {
    return { prompt: await this.ai.autoGeneratePrompt(accountId, body.description) };
  }
}
