import { AppConfig } from '@app/config';
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../app/app.module';
import { AnalysisController } from './analysis.controller';
import { AnalysisService } from './analysis.service';
import { AppAnalysisEntity } from './entities/app-analysis.entity';
import { AnalysisScheduler, RefreshAnalysisProcessor } from './refresh-analysis.processor';

/**
 * App statistics. Its own module above apps and chat: it checks ownership through AppService and
 * aggregates messages through ConversationService (chat depends on apps, so apps cannot read
 * messages). The daily refresh is scheduled in the api role only.
 */
@Module({})
export class AnalysisModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [AnalysisService, RefreshAnalysisProcessor];
    if (config.hasRole('api')) providers.push(AnalysisScheduler);
    return {
      module: AnalysisModule,
      imports: [TypeOrmModule.forFeature([AppAnalysisEntity]), AppsModule],
      controllers: [AnalysisController],
      providers,
      exports: [AnalysisService],
    };
  }
}
