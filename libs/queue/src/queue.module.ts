import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { QueueJobEntity } from './entities/queue-job.entity';
import { JobQueue } from './job-queue.service';

@Global()
@Module({
  imports: [DiscoveryModule, TypeOrmModule.forFeature([QueueJobEntity])],
  providers: [JobQueue],
  exports: [JobQueue],
})
export class QueueModule {}
