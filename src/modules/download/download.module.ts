import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ModelHubController } from './model-hub.controller';
import { ModelHubService } from './model-hub.service';
import { HuggingFaceClient } from './sources/huggingface.client';
import { OllamaClient } from './sources/ollama.client';
import { DownloadTaskController } from './tasks/download-task.controller';
import { DownloadTaskEntity } from './tasks/download-task.entity';
import { DownloadSnapshotProcessor } from './tasks/download-task.processor';
import { DownloadTaskService } from './tasks/download-task.service';

/**
 * Model hub: search and describe models on Hugging Face and Ollama, and download tasks
 * (`/downloads`, the `download.snapshot` job, `subscribe_download`). A finished download emits
 * `download.completed` (EventEmitter2, DownloadCompletedEvent) for the model registry.
 */
@Module({
  imports: [TypeOrmModule.forFeature([DownloadTaskEntity])],
  controllers: [ModelHubController, DownloadTaskController],
  providers: [
    HuggingFaceClient,
    OllamaClient,
    ModelHubService,
    DownloadTaskService,
    DownloadSnapshotProcessor,
  ],
  exports: [HuggingFaceClient, OllamaClient, ModelHubService, DownloadTaskService],
})
export class DownloadModule {}
