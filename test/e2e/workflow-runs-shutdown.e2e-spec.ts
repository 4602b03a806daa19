import { JobQueue } from '@app/queue';
import { createTestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { eventually } from '@test/support/eventually';
import {
  codeNode,
  endNode,
  generated,
  graphOf,
  ref,
  startNode,
} from 'src/modules/workflow/engine/testing/graph-builder';
import { DataSource } from 'typeorm';

/**
 * A graceful shutdown while a code node runs: the job queue aborts its jobs (before the
 * application shuts down) and a run aborted that way stores nothing, so it resumes later. The
 * sandbox's threads must still be there at that moment: stopped earlier, at module destroy, they
 * failed the running node, and the run was stored as failed.
 */
describe('a workflow run interrupted by a graceful shutdown', () => {
  it('stays resumable when a code node is running as the app closes', async () => {
    const first = await createTestApp();
    const a = await createAccount(first);
    const code = {
      ...codeNode('C', [ref('q', 'S', 'query')], [generated('out')], { timeout_ms: 20_000 }),
      // About 3 s of work: the app closes while it runs.
      code: 'function main(p) { const end = Date.now() + 3000; while (Date.now() < end) {} return { out: p.q } }',
    };
    const graph = graphOf(
      [startNode('S', [{ name: 'query' }]), code, endNode('E', [ref('answer', 'C', 'out')])],
      [
        ['S', 'C'],
        ['C', 'E'],
      ],
    );
    const created = await first.http().post('/workflows').set(a.auth).send({
      name: 'Shutdown flow',
      tool_call_name: 'shutdown_flow',
      icon: 'http://localhost/i.png',
      description: 'Runs',
    });
    expect(created.body.code).toBe('success');
    const workflowId = created.body.data.id as string;
    const db = first.app.get(DataSource);
    const [run] = await db.query<Array<{ id: string }>>(
      `INSERT INTO workflow_runs (account_id, workflow_id, source, status, inputs, started_at, graph)
       VALUES ($1, $2, 'published', 'running', $3, now(), $4) RETURNING id`,
      [a.id, workflowId, JSON.stringify({ query: 'go' }), JSON.stringify(graph)],
    );
    const job = await first.app
      .get(JobQueue)
      .enqueue('workflow.run', { run_id: run.id }, { key: `${run.id}:run`, accountId: a.id });
    // The code node has started.
    const started = await eventually(
      async () => {
        const [row] = await db.query<Array<{ status: string }>>(
          `SELECT status FROM queue_jobs WHERE id = $1`,
          [job.id],
        );
        return row.status;
      },
      (s) => s === 'running',
      15_000,
      20,
    );
    expect(started).toBe('running');
    await new Promise((r) => setTimeout(r, 500));
    await first.close();

    const second = await createTestApp();
    try {
      const db2 = second.app.get(DataSource);
      const [stored] = await db2.query<Array<{ status: string; error: string }>>(
        `SELECT status, error FROM workflow_runs WHERE id = $1`,
        [run.id],
      );
      expect(stored).toMatchObject({ status: 'running' });
      const failedNodes = await db2.query<unknown[]>(
        `SELECT 1 FROM workflow_results WHERE run_id = $1 AND status <> 'succeeded'`,
        [run.id],
      );
      expect(failedNodes).toEqual([]);
      // The job was handed back, and this process finishes the run.
      const done = await second.app.get(JobQueue).waitFor(job.id, 30_000);
      expect(done.status).toBe('completed');
      const [finished] = await db2.query<Array<{ status: string; outputs: unknown }>>(
        `SELECT status, outputs FROM workflow_runs WHERE id = $1`,
        [run.id],
      );
      expect(finished).toEqual({ status: 'succeeded', outputs: { answer: 'go' } });
    } finally {
      await second.close();
    }
  }, 90_000);
});
