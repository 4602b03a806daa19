import { JobAbortedError, JobContext, JobProcessor, Processor } from '@app/queue';
import { Injectable } from '@nestjs/common';
import { WorkflowRunService } from './workflow-run.service';

/**
 * Runs a queued workflow run. After a crash the queue re-enqueues the job at boot and the run
 * resumes: the nodes already stored are restored, not run again. On a graceful shutdown nothing
 * more is stored (the aborted nodes would read as failures) and the job goes back to the queue.
 */
@Injectable()
@Processor('workflow.run')
export class WorkflowRunProcessor implements JobProcessor<'workflow.run'> {
  constructor(private readonly runs: WorkflowRunService) {}

  async process(ctx: JobContext<'workflow.run'>): Promise<{ status: string }> {
    const shuttingDown = () =>
      ctx.signal.aborted &&
      ctx.signal.reason instanceof JobAbortedError &&
      ctx.signal.reason.kind === 'shutdown';
    const res = await this.runs.processRun(ctx.payload.run_id, {
      signal: ctx.signal,
      discard: shuttingDown,
    });
    if (shuttingDown()) throw ctx.signal.reason;
    return res;
  }
}
