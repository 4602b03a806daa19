import { MetricsRegistry } from '@app/common';
import { JobQueue, QUEUE_NAMES } from '@app/queue';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';

/** Queue depth per queue and state, read from the driver at scrape time. */
@Injectable()
export class QueueMetricsService implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly jobs: JobQueue,
  ) {}

  onModuleInit(): void {
    const jobs = this.jobs;
    new Gauge({
      name: 'llmops_queue_depth',
      help: 'Jobs per queue and state (waiting, active, delayed)',
      labelNames: ['queue', 'state'] as const,
      registers: [this.metrics.registry],
      async collect() {
        // Redis unreachable: keep the last values rather than failing the whole scrape.
        const counts = await jobs.counts().catch(() => null);
        if (!counts) return;
        for (const q of QUEUE_NAMES) {
          const c = counts[q] ?? { waiting: 0, active: 0, delayed: 0 };
          this.set({ queue: q, state: 'waiting' }, c.waiting);
          this.set({ queue: q, state: 'active' }, c.active);
          this.set({ queue: q, state: 'delayed' }, c.delayed);
        }
      },
    });
  }
}
