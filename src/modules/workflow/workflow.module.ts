import { OutboundHttpClient } from '@app/http';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatasetModule } from '../dataset/dataset.module';
import { ModelModule } from '../model/model.module';
import { ToolModule } from '../tool/tool.module';
import { ExecutorRegistry, registerCoreExecutors, WorkflowEngine } from './engine';
import { WorkflowEntity } from './entities/workflow.entity';
import { WorkflowResultEntity } from './entities/workflow-result.entity';
import { WorkflowRunEntity } from './entities/workflow-run.entity';
import { GraphValidator } from './graph/graph-validator.service';
import { WorkflowRunController } from './runs/workflow-run.controller';
import { WorkflowRunProcessor } from './runs/workflow-run.processor';
import { WorkflowRunService } from './runs/workflow-run.service';
import { WorkflowController } from './workflow.controller';
import { WorkflowService } from './workflow.service';

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
    // The executors needing only HTTP; the model, tool, dataset and code ones register here too.
    {
      provide: ExecutorRegistry,
      useFactory: (http: OutboundHttpClient) =>
        registerCoreExecutors(new ExecutorRegistry(), { http }),
      inject: [OutboundHttpClient],
    },
    {
      provide: WorkflowEngine,
      useFactory: (registry: ExecutorRegistry) => new WorkflowEngine(registry),
      inject: [ExecutorRegistry],
    },
  ],
  exports: [WorkflowService, GraphValidator, WorkflowEngine, WorkflowRunService],
})
export class WorkflowModule {}
