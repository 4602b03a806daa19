import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  CreatedWorkflowDto,
  DraftGraphDto,
  DraftGraphViewDto,
  ListWorkflowsDto,
  SaveWorkflowDto,
  WorkflowDto,
} from './dto/workflow.dto';
import { WorkflowService } from './workflow.service';

/** Where the console reached us: builtin tool icons in node metas are absolute URLs. */
function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

@ApiTags('workflows')
@ApiBearerAuth('jwt')
@Controller('workflows')
export class WorkflowController {
  constructor(private readonly workflows: WorkflowService) {}

  @Get()
  @ApiOperation({
    operationId: 'listWorkflows',
    summary: 'Your workflows, newest first (search_word matches the name; status filters)',
  })
  @ApiEnvelope(WorkflowDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Query() q: ListWorkflowsDto,
  ): Promise<Page<WorkflowDto>> {
    return this.workflows.list(accountId, q);
  }

  @ConsolePost(undefined, 'Workflow created')
  @ApiOperation({
    operationId: 'createWorkflow',
    summary: 'Create a draft workflow with an empty graph',
  })
  @ApiEnvelope(CreatedWorkflowDto)
  create(
    @CurrentAccount() accountId: string,
    @Body() body: SaveWorkflowDto,
  ): Promise<CreatedWorkflowDto> {
    return this.workflows.create(accountId, body);
  }

  @Get(':workflow_id')
  @ApiOperation({ operationId: 'getWorkflow', summary: 'One workflow (node_count of the draft)' })
  @ApiEnvelope(WorkflowDto)
  get(@CurrentAccount() accountId: string, @Param('workflow_id') id: string): Promise<WorkflowDto> {
    return this.workflows.get(accountId, id);
  }

  @ConsolePost(':workflow_id', 'Workflow updated')
  @ApiOperation({
    operationId: 'updateWorkflow',
    summary: 'Update name, tool_call_name, icon and description',
  })
  @ApiEnvelope()
  async update(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Body() body: SaveWorkflowDto,
  ): Promise<void> {
    await this.workflows.update(accountId, id, body);
  }

  @ConsolePost(':workflow_id/delete', 'Workflow deleted')
  @ApiOperation({ operationId: 'deleteWorkflow', summary: 'Delete a workflow' })
  @ApiEnvelope()
  async delete(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
  ): Promise<void> {
    await this.workflows.delete(accountId, id);
  }

  @Get(':workflow_id/draft-graph')
  @ApiOperation({
    operationId: 'getWorkflowDraftGraph',
    summary:
      'The draft graph as stored, with language_model_config on LLM nodes and the datasets of retrieval nodes',
  })
  @ApiEnvelope(DraftGraphViewDto)
  getDraftGraph(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Req() req: Request,
  ): Promise<DraftGraphViewDto> {
    return this.workflows.getDraftGraph(accountId, id, originOf(req));
  }

  @ConsolePost(':workflow_id/draft-graph', 'Draft saved')
  @ApiOperation({
    operationId: 'saveWorkflowDraftGraph',
    summary:
      'Save the draft as given (half-edited graphs are kept; only outline and size are checked); resets is_debug_passed',
  })
  @ApiEnvelope(DraftGraphViewDto)
  saveDraftGraph(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
    @Body() body: DraftGraphDto,
    @Req() req: Request,
  ): Promise<DraftGraphViewDto> {
    return this.workflows.saveDraftGraph(accountId, id, body, originOf(req));
  }

  @ConsolePost(':workflow_id/publish', 'Workflow published')
  @ApiOperation({
    operationId: 'publishWorkflow',
    summary:
      'Publish the draft: needs a passed debug run, then validates the whole graph (validate_error lists every violation)',
  })
  @ApiEnvelope()
  async publish(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
  ): Promise<void> {
    await this.workflows.publish(accountId, id);
  }

  @ConsolePost(':workflow_id/cancel-publish', 'Workflow unpublished')
  @ApiOperation({
    operationId: 'cancelPublishWorkflow',
    summary: 'Unpublish: clears the published graph and the debug pass',
  })
  @ApiEnvelope()
  async cancelPublish(
    @CurrentAccount() accountId: string,
    @Param('workflow_id') id: string,
  ): Promise<void> {
    await this.workflows.cancelPublish(accountId, id);
  }
}
