import { ApiEnvelope, ConsolePost, CurrentAccount, Page, SseStream } from '@app/common';
import { AppConfig } from '@app/config';
import { Body, Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ListWorkflowRunsDto, WorkflowRunDetailDto, WorkflowRunDto } from '../dto/workflow-run.dto';
import { WorkflowRunService } from './workflow-run.service';

const INPUTS_BODY = {
  schema: { type: 'object', additionalProperties: true },
  description: 'The start inputs, flat: {name: value}',
};

@ApiTags('workflows')
@ApiBearerAuth('jwt')
@Controller('workflows')
export class WorkflowRunController {
  constructor(
    private readonly runs: WorkflowRunService,
    private readonly config: AppConfig,
  ) {}

  /**
   * SSE: one `event: workflow` frame per node that ran, `{id, node_data, status, inputs, outputs,
   * latency (seconds), error}`; the end node's frame last. An invalid draft answers a JSON
   * envelope (validate_error) before any stream.
   */
  @ConsolePost(':workflow_id/debug', 'Workflow debug run finished')
  @ApiProduces('text/event-stream')
  @ApiBody(INPUTS_BODY)
  @ApiOperation({
    operationId: 'debugWorkflow',
    summary: 'Run the draft (full validation first) and stream each finished node (SSE)',
  })
  async debug(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Body() body: Record<string, unknown>,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const sse = new SseStream(req, res, { pingIntervalMs: this.config.env.SSE_PING_INTERVAL_MS });
    const origin = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    await this.runs.debug(accountId, id, body, sse, origin);
  }

  @ConsolePost(':workflow_id/runs', 'Workflow run started')
  @ApiBody(INPUTS_BODY)
  @ApiOperation({
    operationId: 'startWorkflowRun',
    summary:
      'Run the published graph in the background (the workflow queue); follow it with subscribe_workflow_run or the run detail',
  })
  @ApiEnvelope(WorkflowRunDto)
  start(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Body() body: Record<string, unknown>,
  ): Promise<WorkflowRunDto> {
    return this.runs.startRun(accountId, id, body, 'published');
  }

  @Get(':workflow_id/runs')
  @ApiOperation({ operationId: 'listWorkflowRuns', summary: 'Runs of a workflow, newest first' })
  @ApiEnvelope(WorkflowRunDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Query() q: ListWorkflowRunsDto,
  ): Promise<Page<WorkflowRunDto>> {
    return this.runs.list(accountId, id, q);
  }

  @Get(':workflow_id/runs/:run_id')
  @ApiOperation({
    operationId: 'getWorkflowRun',
    summary: 'One run with the result of every node that finished, in order',
  })
  @ApiEnvelope(WorkflowRunDetailDto)
  get(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Param('run_id') runId: string,
  ): Promise<WorkflowRunDetailDto> {
    return this.runs.get(accountId, id, runId);
  }
}
