import {
  ELSE_HANDLE,
  type Condition,
  type EndNode,
  type IfElseNode,
  type StartNode,
  type TemplateTransformNode,
} from 'src/modules/workflow/graph/graph.types';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';
import { templateRenderer, type TemplateRenderer } from '../template-renderer';
import { coerce, toText, typeDefault } from '../variables';

/** The start node's outputs are the run's inputs, typed; a missing optional one gets its default. */
export class StartExecutor implements NodeExecutor<StartNode> {
  run(node: StartNode, _inputs: unknown, ctx: NodeExecutionContext): Promise<NodeExecution> {
    const outputs: Record<string, unknown> = {};
    for (const input of node.inputs ?? []) {
      const given = ctx.runInputs[input.name];
      // The debug form leaves empty fields out; an empty string is as good as absent.
      const missing = given === undefined || given === null || given === '';
      if (missing && input.required) throw new Error(`the input "${input.name}" is required`);
      try {
        outputs[input.name] = missing ? typeDefault(input.type) : coerce(given, input.type);
      } catch (e) {
        throw new Error(`the input "${input.name}" (${input.type}): ${(e as Error).message}`);
      }
    }
    return Promise.resolve({ outputs });
  }
}

/** The end node's resolved output values are the run's result. */
export class EndExecutor implements NodeExecutor<EndNode> {
  run(_node: EndNode, inputs: Record<string, unknown>): Promise<NodeExecution> {
    return Promise.resolve({ outputs: inputs });
  }
}

/** Renders the node's Jinja template with its inputs as variables: `{output}`. */
export class TemplateTransformExecutor implements NodeExecutor<TemplateTransformNode> {
  constructor(private readonly renderer: TemplateRenderer = templateRenderer) {}

  async run(
    node: TemplateTransformNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    const output = await this.renderer.render(node.template, inputs, {
      signal: ctx.signal,
      timeoutMs: ctx.timeoutMs,
    });
    return { outputs: { output } };
  }
}

const isEmpty = (v: unknown): boolean =>
  v === null ||
  v === undefined ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

/** Equal as JSON; a number and its string form are equal too (form fields are strings). */
function equals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' && typeof b !== 'object') return toText(a) === toText(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

function contains(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return a.some((x) => equals(x, b));
  if (typeof a === 'string') return a.includes(toText(b));
  return false;
}

function compare(a: unknown, b: unknown, test: (x: number, y: number) => boolean): boolean {
  const x = typeof a === 'string' && a.trim() === '' ? NaN : Number(a);
  const y = typeof b === 'string' && b.trim() === '' ? NaN : Number(b);
  return Number.isFinite(x) && Number.isFinite(y) && test(x, y);
}

export function holds(c: Condition, inputs: Record<string, unknown>): boolean {
  const a = inputs[c.variable];
  const b = c.value;
  switch (c.operator) {
    case 'equals':
      return equals(a, b);
    case 'not_equals':
      return !equals(a, b);
    case 'contains':
      return contains(a, b);
    case 'not_contains':
      return !contains(a, b);
    case 'starts_with':
      return typeof a === 'string' && a.startsWith(toText(b));
    case 'ends_with':
      return typeof a === 'string' && a.endsWith(toText(b));
    case 'is_empty':
      return isEmpty(a);
    case 'is_not_empty':
      return !isEmpty(a);
    case 'gt':
      return compare(a, b, (x, y) => x > y);
    case 'gte':
      return compare(a, b, (x, y) => x >= y);
    case 'lt':
      return compare(a, b, (x, y) => x < y);
    case 'lte':
      return compare(a, b, (x, y) => x <= y);
    default:
      return false;
  }
}

/** Takes the first branch whose conditions hold (all for `and`, any for `or`), else `else`. */
export class IfElseExecutor implements NodeExecutor<IfElseNode> {
  run(node: IfElseNode, inputs: Record<string, unknown>): Promise<NodeExecution> {
    const branch = node.branches.find((b) =>
      b.logical_operator === 'or'
        ? b.conditions.some((c) => holds(c, inputs))
        : b.conditions.every((c) => holds(c, inputs)),
    );
    return Promise.resolve({ outputs: {}, handle: branch?.id ?? ELSE_HANDLE });
  }
}
