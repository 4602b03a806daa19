import { SetMetadata } from '@nestjs/common';
import type { JobName } from './queue.types';

export const JOB_PROCESSOR_KEY = 'llmops:job-processor';

/** Marks a provider as the processor of one job name; it must implement `JobProcessor`. */
export const Processor = (name: JobName): ClassDecorator => SetMetadata(JOB_PROCESSOR_KEY, name);
