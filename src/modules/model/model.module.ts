import { SecretBox } from '@app/common';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AiController } from './ai/ai.controller';
import { AiService } from './ai/ai.service';
import { ModelCatalog } from './catalog/model-catalog.service';
import { CredentialsController } from './credentials.controller';
import { CredentialsService } from './credentials.service';
import { ModelCredentialEntity } from './entities/model-credential.entity';
import { ModelUsageEntity } from './entities/model-usage.entity';
import { LanguageModelController } from './language-model.controller';
import { EmbeddingService } from './runtime/embedding.service';
import { ModelRuntime } from './runtime/model-runtime.service';
import { ModelTester } from './runtime/model-tester.service';
import { UsageService } from './runtime/usage.service';

/**
 * Language models: the provider catalog, per-account credentials, ModelRuntime (chat models and
 * embeddings through LangChain), usage records and the AI helpers. Other modules use ModelRuntime,
 * EmbeddingService, ModelCatalog (incl. registerDynamic for deployments) and UsageService.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ModelCredentialEntity, ModelUsageEntity])],
  // Credentials first: its routes must win over /language-models/:provider_name/:model_name.
  controllers: [CredentialsController, LanguageModelController, AiController],
  providers: [
    SecretBox,
    ModelCatalog,
    CredentialsService,
    UsageService,
    ModelRuntime,
    EmbeddingService,
    ModelTester,
    AiService,
  ],
  exports: [ModelCatalog, ModelRuntime, EmbeddingService, UsageService, CredentialsService],
})
export class ModelModule {}
