import { FailException } from '@app/common';
import { HttpStatus } from '@nestjs/common';
/** Every queue (DESIGN §5). */
export const QUEUE_NAMES = [
  'dataset',
  'workflow',
  'download',
  'deployment',
  'app',
  'maintenance',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/**
 * Job names and their payloads, in one place so producers and processors agree. A job name is
 * `<queue>.<action>`; modules add their jobs here.
 */
export interface JobPayloads {
  /** Diagnostic job: walks `steps` steps of `step_ms` each, reporting progress; can fail on purpose. */
  'maintenance.selftest': {
    steps: number;
    step_ms: number;
    fail_attempts?: number;
    label?: string;
  };
  /** Deletes finished job rows older than `older_than_days`. */
  'maintenance.purge-jobs': { older_than_days: number };
  /** Deletes expired sessions and tokens, used OAuth states and stale login-failure counters. */
  'maintenance.purge-auth': Record<string, never>;
  /** Recomputes today's cached analysis of the apps with traffic; drops other days' rows. */
  'maintenance.refresh-analysis': Record<string, never>;
  /** Parses, splits, keywords and embeds one document; resumes what a previous run finished. */
  'dataset.index-document': { document_id: string };
  /** Removes what a deleted dataset left: documents, segments (and vectors), query log. */
  'dataset.purge-dataset': { dataset_id: string };
  /** Deletes document uploads that no document uses, older than `older_than_hours`. */
  'dataset.clean-uploads': { older_than_hours: number };
  /** Removes a deleted document's segments and, when nothing else uses it, its upload. */
  'dataset.purge-document': { document_id: string; upload_file_id: string };
  /** Runs (or resumes, from its stored node results) one workflow_runs row. */
  'workflow.run': { run_id: string };
  /**
   * Creates an app the assistant agent was asked for (a draft with the preset prompt it wrote).
   * `app_id` is chosen when the job is queued, so a retried job never creates a second app.
   */
  'app.create-app': {
    app_id: string;
    account_id: string;
    name: string;
    description: string;
    preset_prompt: string;
    icon: string;
  };
  /** Downloads (or resumes, from the sidecars) one download_tasks row. */
  'download.snapshot': { task_id: string };
  /** Deletes partial download files (`.part` + sidecar) no resumable task needs any more. */
  'download.clean-partials': { older_than_hours: number };
}
export type JobName = keyof JobPayloads;

export function queueOf(name: JobName): QueueName {
  return name.slice(0, name.indexOf('.')) as QueueName;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const ACTIVE_STATUSES: JobStatus[] = ['queued', 'running'];

export interface EnqueueOptions {
  /** Idempotency key, e.g. `<entity id>:<action>`: while such a job is active, enqueue returns it. */
  key?: string;
  accountId?: string | null;
  /** Total tries including the first (default 3). */
  attempts?: number;
  /** First retry delay; doubles each retry (default 1000 ms). */
  backoffMs?: number;
  /** Wall-clock limit per attempt (default JOB_TIMEOUT_MS). */
  timeoutMs?: number;
  delayMs?: number;
}

/** What a processor receives. */
export interface JobContext<N extends JobName = JobName> {
  id: string;
  name: N;
  payload: JobPayloads[N];
  accountId: string | null;
  /** 1 for the first try. */
  attempt: number;
  maxAttempts: number;
  /** Aborted on cancel, timeout or shutdown; pass it to every I/O call. */
  signal: AbortSignal;
  /** 0..100; persisted (throttled) and broadcast. */
  progress(percent: number, message?: string): Promise<void>;
}

export interface JobProcessor<N extends JobName = JobName> {
  process(ctx: JobContext<N>): Promise<unknown>;
}

/** Throw from a processor to fail at once without retries (bad input, missing entity). */
export class UnrecoverableJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableJobError';
  }
}

export type AbortKind = 'cancelled' | 'timeout' | 'shutdown';
export class JobAbortedError extends Error {
  constructor(readonly kind: AbortKind) {
    super(`job ${kind}`);
    this.name = 'JobAbortedError';
  }
}

/** The BullMQ queue (Redis) did not answer: the request fails clearly instead of hanging. */
export class QueueUnavailableError extends FailException {
  constructor(reason: string) {
    super(
      'The job queue is unavailable right now (Redis does not answer); try again shortly',
      { reason },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
    this.name = 'QueueUnavailableError';
  }
}

/** Public view of a job row. */
export interface JobSnapshot {
  id: string;
  queue: QueueName;
  name: JobName;
  status: JobStatus;
  progress: number;
  progress_message: string | null;
  attempts: number;
  max_attempts: number;
  error: string | null;
  result: unknown;
  account_id: string | null;
}

export const JOB_UPDATED_EVENT = 'job.updated';
