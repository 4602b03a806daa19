import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatasetModule } from '../dataset/dataset.module';
import { ModelModule } from '../model/model.module';
import { ToolModule } from '../tool/tool.module';
import { WorkflowEntity } from './entities/workflow.entity';
import { GraphValidator } from './graph/graph-validator.service';
import { WorkflowController } from './workflow.controller';
import { WorkflowService } from './workflow.service';

/**
 * Workflows: storage, the console routes, and full-graph validation (tools, datasets and models
 * of the account behind it). The engine and debug runs build on WorkflowService and
 * GraphValidator; the graph types are in graph/graph.types.ts.
 */
@Module({
  imports: [TypeOrmModule.forFeature([WorkflowEntity]), ModelModule, ToolModule, DatasetModule],
  controllers: [WorkflowController],
  providers: [WorkflowService, GraphValidator],
  exports: [WorkflowService, GraphValidator],
})
export class WorkflowModule {}
