import { Module } from '@nestjs/common';
import { ModelHubController } from './model-hub.controller';
import { ModelHubService } from './model-hub.service';
import { HuggingFaceClient } from './sources/huggingface.client';
import { OllamaClient } from './sources/ollama.client';

/** Model hub: search and describe models on Hugging Face and Ollama (downloads come later). */
@Module({
  controllers: [ModelHubController],
  providers: [HuggingFaceClient, OllamaClient, ModelHubService],
  exports: [HuggingFaceClient, OllamaClient, ModelHubService],
})
export class DownloadModule {}
