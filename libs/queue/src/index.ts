export * from './bullmq/bullmq.tokens';
export * from './drivers/queue-driver';
export * from './entities/queue-job.entity';
export * from './job-processor.decorator';
export * from './job-queue.service';
export * from './queue.module';
export * from './queue.types';
export * from './board/queue-board.module';
