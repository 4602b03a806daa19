import {
  MAX_ITERATION_CONCURRENCY,
  type IterationNode,
} from 'src/modules/workflow/graph/graph.types';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';

/**
 * Runs the node's sub-graph once per item of `items` with `{item, index}` as its inputs, at most
 * `concurrency` at a time; `output` is the sub-runs' end outputs (objects) in item order. The
 * first sub-run that does not succeed fails the node, and no further item starts; the engine
 * then aborts the node, which stops the sub-runs still going (they share its signal).
 */
export class IterationExecutor implements NodeExecutor<IterationNode> {
  async run(
    node: IterationNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    const items = inputs.items ?? [];
    if (!Array.isArray(items)) throw new Error('the input "items" is not an array');
    const limit = Math.min(
      MAX_ITERATION_CONCURRENCY,
      Math.max(1, Math.floor(Number(node.concurrency) || 1)),
    );
    const output: Array<Record<string, unknown>> = new Array(items.length);
    let next = 0;
    // In an object: the workers set it, and TS would narrow a plain `let` to null here.
    const state: { failure: Error | null } = { failure: null };
    const worker = async (): Promise<void> => {
      while (!state.failure && !ctx.signal.aborted && next < items.length) {
        const index = next++;
        const result = await ctx.runGraph(node.graph, { item: items[index], index });
        if (result.status !== 'succeeded') {
          state.failure ??= new Error(
            `item ${index}: the sub-graph ${result.status}${result.error ? `: ${result.error}` : ''}`,
          );
          return;
        }
        output[index] = result.outputs;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    if (state.failure) throw state.failure;
    if (ctx.signal.aborted) throw (ctx.signal.reason as Error) ?? new Error('aborted');
    return { outputs: { output } };
  }
}
