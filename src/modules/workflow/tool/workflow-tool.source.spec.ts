import { NotFoundError } from '@app/common';
import { ToolCallError, type ResolvedTool } from 'src/modules/tool/runtime/tool.types';
import type { RunResult } from '../engine/engine.types';
import type { WorkflowRunService } from '../runs/workflow-run.service';
import { endNode, graphOf, startNode } from '../engine/testing/graph-builder';
import type { WorkflowService } from '../workflow.service';
import {
  MAX_WORKFLOW_TOOL_DEPTH,
  startInputSchema,
  WorkflowToolSource,
} from './workflow-tool.source';

const ACCOUNT = '00000000-0000-4000-8000-000000000001';
const ID = '00000000-0000-4000-8000-0000000000aa';
const graph = graphOf(
  [
    startNode('S', [
      { name: 's' },
      { name: 'i', type: 'int', required: false },
      { name: 'f', type: 'float' },
      { name: 'b', type: 'boolean', required: false },
      { name: 'a', type: 'array' },
      { name: 'o', type: 'object', required: false },
    ]),
    endNode('E', []),
  ],
  [['S', 'E']],
);

function sourceWith(execute: (args: Record<string, unknown>) => Promise<RunResult>) {
  const workflows = {
    publishedGraph: (accountId: string, id: string) =>
      accountId === ACCOUNT && id === ID
        ? Promise.resolve({
            workflow: { id: ID, name: 'Shout', tool_call_name: 'shout', description: '' },
            graph,
          })
        : Promise.reject(new NotFoundError('The workflow does not exist')),
  } as unknown as WorkflowService;
  const runs = {
    runAndWait: async (_a: string, _w: string, args: Record<string, unknown>) => ({
      ...(await execute(args)),
      run_id: 'run-1',
    }),
  };
  return new WorkflowToolSource(
    workflows,
    runs as unknown as WorkflowRunService,
    {
      register: () => undefined,
    } as never,
  );
}

const result = (status: RunResult['status'], outputs = {}, error = ''): RunResult => ({
  status,
  outputs,
  error,
  steps: 1,
  latency: 1,
});
const ctx = { accountId: ACCOUNT, signal: new AbortController().signal };

describe('WorkflowToolSource', () => {
  it('maps the start inputs to a JSON schema', () => {
    expect(startInputSchema(graph)).toEqual({
      type: 'object',
      properties: {
        s: { type: 'string' },
        i: { type: 'integer' },
        f: { type: 'number' },
        b: { type: 'boolean' },
        a: { type: 'array' },
        o: { type: 'object' },
      },
      required: ['s', 'f', 'a'],
    });
  });

  it('names the tool by tool_call_name, describes it by name when it has no description', async () => {
    const tool = await sourceWith(() => Promise.resolve(result('succeeded'))).resolve(ACCOUNT, {
      type: 'workflow',
      provider: ID,
      tool: ID,
    });
    expect(tool).toMatchObject({ kind: 'workflow', provider: ID, name: 'shout', label: 'Shout' });
    expect(tool.description).toBe('Shout');
  });

  it('returns the outputs, and a run that does not succeed fails the call', async () => {
    const runs = [result('succeeded', { x: 1 }), result('failed', {}, 'Node "T" failed: boom')];
    const tool = await sourceWith(() => Promise.resolve(runs.shift()!)).resolve(ACCOUNT, {
      type: 'workflow',
      provider: ID,
      tool: ID,
    });
    await expect(tool.call({}, ctx)).resolves.toEqual({ x: 1 });
    await expect(tool.call({}, ctx)).rejects.toThrow(
      new ToolCallError('the workflow failed: Node "T" failed: boom'),
    );
  });

  it(`stops a workflow calling itself after ${MAX_WORKFLOW_TOOL_DEPTH} levels`, async () => {
    const self: { tool?: ResolvedTool } = {};
    let runs = 0;
    // Each run calls the tool again, as a workflow using itself as a tool would.
    const source = sourceWith(async () => {
      runs += 1;
      return result('succeeded', { inner: await self.tool!.call({}, ctx) });
    });
    self.tool = await source.resolve(ACCOUNT, { type: 'workflow', provider: ID, tool: ID });
    await expect(self.tool.call({}, ctx)).rejects.toThrow(/at most 3 deep/);
    expect(runs).toBe(MAX_WORKFLOW_TOOL_DEPTH);
  });

  it('another account resolves nothing', async () => {
    const source = sourceWith(() => Promise.resolve(result('succeeded')));
    await expect(
      source.resolve('00000000-0000-4000-8000-000000000002', {
        type: 'workflow',
        provider: ID,
        tool: ID,
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});
