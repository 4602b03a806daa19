import { ApiEnvelope, CurrentAccount } from '@app/common';
import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AnalysisService } from './analysis.service';
import { AppAnalysisDto } from './dto/analysis.dto';

@ApiTags('analysis')
@ApiBearerAuth('jwt')
@Controller('analysis')
export class AnalysisController {
  constructor(private readonly analysis: AnalysisService) {}

  @Get(':app_id')
  @ApiOperation({
    operationId: 'getAppAnalysis',
    summary:
      "An app's statistics: the last 7 full days (today excluded, debug chat included as in the original) with period-over-period change against the 7 before, and daily trends",
    description:
      'Counts the app’s messages that have an answer (debug chat, web app, service API): messages, active accounts (distinct senders), messages per conversation, token output rate (Σ tokens ÷ Σ latency) and cost. Computed once per app per day (the window moves at local midnight) and refreshed by a daily job. Another account’s app answers not_found.',
  })
  @ApiEnvelope(AppAnalysisDto)
  get(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
  ): Promise<AppAnalysisDto> {
    return this.analysis.get(accountId, appId);
  }
}
