import { AppConfig } from '@app/config';
import { Global, Module } from '@nestjs/common';
import * as path from 'node:path';
import { LocalFileStorage } from './local-file-storage';
import { FILE_STORAGE } from './storage.types';

/**
 * Global so any module can `@Inject(FILE_STORAGE)`; the token hides the backend, so an S3
 * implementation can later be chosen here from config without touching consumers.
 */
@Global()
@Module({
  providers: [
    {
      provide: FILE_STORAGE,
      inject: [AppConfig],
      // `files/` keeps blobs apart from the embedded database in `STORAGE_DIR/db`.
      useFactory: (config: AppConfig) =>
        new LocalFileStorage(path.join(config.storageDir, 'files')),
    },
  ],
  exports: [FILE_STORAGE],
})
export class StorageModule {}
