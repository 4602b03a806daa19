export * from './engine.types';
export * from './variables';
export * from './workflow-engine';
export * from './executors';
