import { Module, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatasetModule } from '../dataset/dataset.module';
import { DatasetService } from '../dataset/services/dataset.service';
import { ModelModule } from '../model/model.module';
import { ToolModule } from '../tool/tool.module';
import { WorkflowModule } from '../workflow/workflow.module';
import { AppConfigController } from './app-config.controller';
import { AppController } from './app.controller';
import { AppRepository } from './app.repository';
import { BuiltinAppCatalog } from './builtin-apps/builtin-app-catalog.service';
import { BuiltinAppService } from './builtin-apps/builtin-app.service';
import { BuiltinAppsController } from './builtin-apps/builtin-apps.controller';
import { AppConfigVersionEntity } from './entities/app-config-version.entity';
import { AppEntity } from './entities/app.entity';
import { CreateAppProcessor } from './jobs/create-app.processor';
import { AppDraftService } from './services/app-draft.service';
import { AppPublishService } from './services/app-publish.service';
import { AppService } from './services/app.service';
import { ConfigResolver } from './services/config-resolver.service';

/**
 * Apps: CRUD, the draft config (checked against the model catalog, tools, workflows and datasets
 * of the account), publishing as immutable versions, the web-app token, and the builtin apps
 * (templates added to a space as draft apps). (Named AppsModule: AppModule is the root.) The
 * agent runner, chat, web apps and analysis build on its services.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([AppEntity, AppConfigVersionEntity]),
    ModelModule,
    ToolModule,
    DatasetModule,
    WorkflowModule,
  ],
  controllers: [AppController, AppConfigController, BuiltinAppsController],
  providers: [
    AppRepository,
    ConfigResolver,
    AppService,
    AppDraftService,
    AppPublishService,
    BuiltinAppCatalog,
    BuiltinAppService,
    CreateAppProcessor,
  ],
  exports: [AppService, ConfigResolver],
})
export class AppsModule implements OnModuleInit {
  constructor(
    private readonly datasets: DatasetService,
    private readonly repo: AppRepository,
  ) {}

  /** Datasets show how many published apps use them; they cannot import us (we import them). */
  onModuleInit(): void {
    this.datasets.setRelatedAppCounter((accountId, ids) =>
      this.repo.relatedAppCounts(accountId, ids),
    );
  }
}
