export * from './local-file-storage';
export * from './storage.module';
export * from './storage.types';
