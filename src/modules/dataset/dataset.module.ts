import { AppConfig } from '@app/config';
import { FILE_STORAGE, type FileStorage } from '@app/storage';
import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ModelModule } from '../model/model.module';
import { DatasetController } from './dataset.controller';
import { DocumentController } from './document.controller';
import { DatasetQueryEntity } from './entities/dataset-query.entity';
import { DatasetEntity } from './entities/dataset.entity';
import { DocumentEntity } from './entities/document.entity';
import { SegmentEntity } from './entities/segment.entity';
import { IndexDocumentProcessor } from './jobs/index-document.processor';
import {
  CleanUploadsProcessor,
  PurgeDatasetProcessor,
  PurgeDocumentProcessor,
} from './jobs/purge.processors';
import { RetrievalController } from './retrieval/retrieval.controller';
import { RetrievalRepository } from './retrieval/retrieval.repository';
import { RetrievalService } from './retrieval/retrieval.service';
import { SegmentController } from './segment.controller';
import { DatasetService } from './services/dataset.service';
import { DocumentService } from './services/document.service';
import { SegmentIndexer } from './services/segment-indexer.service';
import { DocumentReader } from './indexing/document-reader';
import { SegmentService } from './services/segment.service';
import { UploadFileEntity } from './uploads/entities/upload-file.entity';
import { UploadFileController } from './uploads/upload-file.controller';
import { UploadFileService } from './uploads/upload-file.service';
import { UploadStorageEngine } from './uploads/upload-storage.engine';

/**
 * Knowledge: uploaded files (documents and images), datasets, documents, segments, the indexing
 * jobs and retrieval. Other modules use UploadFileService, DatasetService and RetrievalService.
 */
@Module({
  imports: [
    ModelModule,
    TypeOrmModule.forFeature([
      UploadFileEntity,
      DatasetEntity,
      DocumentEntity,
      SegmentEntity,
      DatasetQueryEntity,
    ]),
    MulterModule.registerAsync({
      inject: [AppConfig, FILE_STORAGE],
      useFactory: (config: AppConfig, storage: FileStorage) => ({
        storage: new UploadStorageEngine(storage, config.env.UPLOAD_MAX_BYTES),
        limits: {
          // The engine stops at UPLOAD_MAX_BYTES with a clear message; multer's own limit is a
          // backstop just above it. One file, a few small fields, bounded headers.
          fileSize: config.env.UPLOAD_MAX_BYTES + 64 * 1024,
          files: 1,
          fields: 5,
          fieldSize: 1024,
          parts: 8,
          headerPairs: 50,
        },
      }),
    }),
  ],
  controllers: [
    UploadFileController,
    DatasetController,
    DocumentController,
    SegmentController,
    RetrievalController,
  ],
  providers: [
    UploadFileService,
    DatasetService,
    DocumentService,
    SegmentService,
    SegmentIndexer,
    DocumentReader,
    IndexDocumentProcessor,
    PurgeDatasetProcessor,
    PurgeDocumentProcessor,
    CleanUploadsProcessor,
    RetrievalRepository,
    RetrievalService,
  ],
  exports: [UploadFileService, DatasetService, RetrievalService],
})
export class DatasetModule {}
