import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ModelHubController } from './model-hub.controller';
import { ModelHubService } from './model-hub.service';
import { HuggingFaceClient } from './sources/huggingface.client';
import { OllamaClient } from './sources/ollama.client';
import { ModelEntryEntity } from './registry/model-entry.entity';
import { ModelFavoriteEntity } from './registry/model-favorite.entity';
import { ModelRegistryController } from './registry/model-registry.controller';
import { ModelRegistryService } from './registry/model-registry.service';

/**
 * Model hub: search and describe models on Hugging Face and Ollama, and the machine-wide registry
 * of models looked at, downloaded (ModelRegistryService.recordLocal) or synced from Ollama.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ModelEntryEntity, ModelFavoriteEntity])],
  // The hub controller first: its fixed paths (search, info) before the registry's.
  controllers: [ModelHubController, ModelRegistryController],
  providers: [HuggingFaceClient, OllamaClient, ModelHubService, ModelRegistryService],
  exports: [HuggingFaceClient, OllamaClient, ModelHubService, ModelRegistryService],
})
export class DownloadModule {}
