import type { CodeNode } from 'src/modules/workflow/graph/graph.types';
import type {
  CodeRunner,
  NodeExecution,
  NodeExecutionContext,
  NodeExecutor,
} from '../engine.types';
import { coerce } from '../variables';

/**
 * Runs the node's `main(params)` in the sandbox with the node's inputs as `params`. The result
 * must be an object; only the declared outputs are kept, each coerced to its type, and a missing
 * one fails the node (a typo in the code should not pass as an empty value downstream).
 */
export class CodeExecutor implements NodeExecutor<CodeNode> {
  constructor(private readonly runner: CodeRunner) {}

  async run(
    node: CodeNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    if (!node.code?.trim()) throw new Error('the node has no code');
    const result: unknown = await this.runner.run(node.code, inputs, {
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
    });
    if (result === null || typeof result !== 'object' || Array.isArray(result))
      throw new Error('main() must return an object');
    const returned = result as Record<string, unknown>;
    const outputs: Record<string, unknown> = {};
    for (const v of node.outputs ?? []) {
      if (!(v.name in returned) || returned[v.name] === undefined)
        throw new Error(`main() did not return the output "${v.name}"`);
      try {
        outputs[v.name] = coerce(returned[v.name], v.type);
      } catch (e) {
        throw new Error(`the output "${v.name}" (${v.type}): ${(e as Error).message}`);
      }
    }
    return { outputs };
  }
}
