export * from './base.entity';
export * from './data-source.options';
export * from './database.module';
export * from './migrator';
export * from './pglite';
export * from './snake-naming.strategy';
export * from './transaction.service';
export * from './ownership';
