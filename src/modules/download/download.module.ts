import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ModelHubController } from './model-hub.controller';
import { ModelHubService } from './model-hub.service';
import { ModelEntryEntity } from './registry/model-entry.entity';
import { ModelFavoriteEntity } from './registry/model-favorite.entity';
import { ModelRegistryController } from './registry/model-registry.controller';
import { ModelRegistryService } from './registry/model-registry.service';
import { RegistryDownloadListener } from './registry/registry-download.listener';
import { HuggingFaceClient } from './sources/huggingface.client';
import { OllamaClient } from './sources/ollama.client';
import { CleanPartialsProcessor } from './tasks/clean-partials.processor';
import { DownloadTaskController } from './tasks/download-task.controller';
import { DownloadTaskEntity } from './tasks/download-task.entity';
import { DownloadSnapshotProcessor } from './tasks/download-task.processor';
import { DownloadTaskService } from './tasks/download-task.service';

/**
 * Model hub: search and describe models on Hugging Face and Ollama, download tasks
 * (`/downloads`, the `download.snapshot` job, `subscribe_download`), and the machine-wide
 * registry of models looked at, downloaded (a finished download's `download.completed` event
 * records it) or synced from Ollama.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ModelEntryEntity, ModelFavoriteEntity, DownloadTaskEntity])],
  // The hub controller first: its fixed paths (search, info) before the registry's.
  controllers: [ModelHubController, ModelRegistryController, DownloadTaskController],
  providers: [
    HuggingFaceClient,
    OllamaClient,
    ModelHubService,
    ModelRegistryService,
    RegistryDownloadListener,
    DownloadTaskService,
    DownloadSnapshotProcessor,
    CleanPartialsProcessor,
  ],
  exports: [
    HuggingFaceClient,
    OllamaClient,
    ModelHubService,
    ModelRegistryService,
    DownloadTaskService,
  ],
})
export class DownloadModule {}
