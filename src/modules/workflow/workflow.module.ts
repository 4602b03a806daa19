import { OutboundHttpClient } from '@app/http';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatasetModule } from '../dataset/dataset.module';
import { ModelModule } from '../model/model.module';
import { ToolModule } from '../tool/tool.module';
import { RetrievalService } from '../dataset/retrieval/retrieval.service';
import { ModelRuntime } from '../model/runtime/model-runtime.service';
import { ToolRuntime } from '../tool/runtime/tool-runtime.service';
import {
  ExecutorRegistry,
  registerCoreExecutors,
  registerServiceExecutors,
  WorkflowEngine,
  type CodeRunner,
} from './engine';
import { WorkflowEntity } from './entities/workflow.entity';
import { WorkflowResultEntity } from './entities/workflow-result.entity';
import { WorkflowRunEntity } from './entities/workflow-run.entity';
import { GraphValidator } from './graph/graph-validator.service';
import { WorkflowRunController } from './runs/workflow-run.controller';
import { WorkflowRunProcessor } from './runs/workflow-run.processor';
import { WorkflowRunService } from './runs/workflow-run.service';
import { WorkflowController } from './workflow.controller';
import { CodeSandbox } from './sandbox/code-sandbox';
import { sandboxCodeRunner } from './sandbox/sandbox-code-runner';
import { WorkflowToolSource } from './tool/workflow-tool.source';
import { WorkflowService } from './workflow.service';

/** The code node's runner: the QuickJS sandbox (a test may override it). */
export const CODE_RUNNER = Symbol('CODE_RUNNER');

/**
 * Workflows: storage, the console routes, full-graph validation (tools, datasets and models
 * of the account behind it), and runs (debug stream, the `workflow.run` queue job, history;
 * WorkflowRunService.runAndWait for the workflow tool). The engine and debug runs build on WorkflowService and
 * GraphValidator; the graph types are in graph/graph.types.ts, the engine in engine/.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([WorkflowEntity, WorkflowRunEntity, WorkflowResultEntity]),
    ModelModule,
    ToolModule,
    DatasetModule,
  ],
  controllers: [WorkflowController, WorkflowRunController],
  providers: [
    WorkflowService,
    GraphValidator,
    WorkflowRunService,
    WorkflowRunProcessor,
    // Every node type's executor: the core ones, then those backed by models, tools, datasets
    // and the code sandbox.
    {
      provide: ExecutorRegistry,
      useFactory: (
        http: OutboundHttpClient,
        models: ModelRuntime,
        tools: ToolRuntime,
        retrieval: RetrievalService,
        code: CodeRunner,
      ) =>
        registerServiceExecutors(registerCoreExecutors(new ExecutorRegistry(), { http }), {
          models,
          tools,
          retrieval,
          code,
        }),
      inject: [OutboundHttpClient, ModelRuntime, ToolRuntime, RetrievalService, CODE_RUNNER],
    },
    {
      provide: WorkflowEngine,
      useFactory: (registry: ExecutorRegistry) => new WorkflowEngine(registry),
      inject: [ExecutorRegistry],
    },
    CodeSandbox,
    {
      provide: CODE_RUNNER,
      useFactory: (sandbox: CodeSandbox) => sandboxCodeRunner(sandbox),
      inject: [CodeSandbox],
    },
    // Published workflows as tools (kind `workflow`) of the tool runtime.
    WorkflowToolSource,
  ],
  exports: [WorkflowService, GraphValidator, WorkflowEngine, WorkflowRunService],
})
export class WorkflowModule {}
