export * from './ranges';
export * from './snapshot-downloader';
