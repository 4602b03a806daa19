import type {
  NodeRunSettings,
  NodeType,
  Variable,
  VariableType,
  WorkflowEdge,
  WorkflowGraph,
  WorkflowNode,
} from 'src/modules/workflow/graph/graph.types';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';

/** Small builders for engine tests and the benchmark: valid graphs without the console's noise. */
export const ref = (
  name: string,
  node: string,
  variable: string,
  type: VariableType = 'string',
): Variable => ({
  name,
  description: '',
  required: true,
  type,
  value: { type: 'ref', content: { ref_node_id: node, ref_var_name: variable } },
  meta: {},
});

export const literal = (
  name: string,
  content: unknown,
  type: VariableType = 'string',
): Variable => ({
  name,
  description: '',
  required: true,
  type,
  value: { type: 'literal', content },
  meta: {},
});

export const generated = (name: string, type: VariableType = 'string'): Variable => ({
  name,
  description: '',
  required: true,
  type,
  value: { type: 'generated', content: '' },
  meta: {},
});

const base = (id: string, node_type: NodeType) => ({
  id,
  node_type,
  title: id,
  description: '',
  position: { x: 0, y: 0 },
});

export const startNode = (
  id: string,
  inputs: Array<{ name: string; type?: VariableType; required?: boolean }> = [],
): WorkflowNode => ({
  ...base(id, 'start'),
  node_type: 'start',
  inputs: inputs.map((i) => ({
    name: i.name,
    type: i.type ?? 'string',
    description: '',
    required: i.required ?? true,
  })),
});

export const endNode = (id: string, outputs: Variable[]): WorkflowNode => ({
  ...base(id, 'end'),
  node_type: 'end',
  outputs,
});

/** A `code` node: the tests run it with a `ScriptedExecutor`, not a sandbox. */
export const codeNode = (
  id: string,
  inputs: Variable[] = [],
  outputs: Variable[] = [generated('r')],
  settings: NodeRunSettings = {},
): WorkflowNode => ({
  ...base(id, 'code'),
  node_type: 'code',
  code: 'function main(params) { return params }',
  inputs,
  outputs,
  ...settings,
});

export const templateNode = (id: string, template: string, inputs: Variable[]): WorkflowNode => ({
  ...base(id, 'template_transform'),
  node_type: 'template_transform',
  template,
  inputs,
  outputs: [generated('output')],
});

export function graphOf(
  nodes: WorkflowNode[],
  links: Array<[string, string, string?]>,
): WorkflowGraph {
  const types = new Map(nodes.map((n) => [n.id, n.node_type]));
  const edges: WorkflowEdge[] = links.map(([source, target, handle]) => ({
    id: `${source}-${target}${handle ? `-${handle}` : ''}`,
    source,
    source_type: types.get(source)!,
    target,
    target_type: types.get(target)!,
    ...(handle ? { source_handle: handle } : {}),
  }));
  return { nodes, edges };
}

export type Script = (
  inputs: Record<string, unknown>,
  ctx: NodeExecutionContext,
) => Promise<Record<string, unknown>>;

/** Runs each node by its id's script (default: echo the inputs as `r`), counting calls. */
export class ScriptedExecutor implements NodeExecutor {
  readonly calls = new Map<string, number>();
  constructor(private readonly scripts: Record<string, Script> = {}) {}

  async run(
    node: WorkflowNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    this.calls.set(node.id, (this.calls.get(node.id) ?? 0) + 1);
    const script = this.scripts[node.id];
    return { outputs: script ? await script(inputs, ctx) : { r: JSON.stringify(inputs) } };
  }
}

/**
 * Sleeps `ms` (ignoring the signal, as a misbehaving executor would) then returns `outputs`. The
 * timer is unref'd so an abandoned sleep does not keep the process alive.
 */
export const sleeping =
  (ms: number, outputs: Record<string, unknown> = { r: 'done' }): Script =>
  () =>
    new Promise((resolve) => setTimeout(() => resolve(outputs), ms).unref());
