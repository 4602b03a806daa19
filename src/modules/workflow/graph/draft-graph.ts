import { ValidateError } from '@app/common';
import { GRAPH_LIMITS, NODE_TYPES, type DraftGraph, type ModelConfig } from './graph.types';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const KNOWN_TYPES = new Set<string>(NODE_TYPES);
const MAX_ID = 100;
const MAX_TITLE = 200;

/** The model shown for an LLM node saved without one (it exists in the catalogue). */
export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  provider: 'openai',
  model: 'gpt-4o-mini',
  parameters: {},
};

const generated = (name: string, type = 'string', content: unknown = '') => ({
  name,
  description: '',
  required: true,
  type,
  value: { type: 'generated', content },
  meta: {},
});

/** The outputs each node type produces, for a node saved without `outputs`. */
function defaultOutputs(nodeType: string): Obj[] {
  switch (nodeType) {
    case 'llm':
    case 'template_transform':
      return [generated('output')];
    case 'tool':
      return [generated('text')];
    case 'dataset_retrieval':
      return [generated('combine_documents')];
    case 'http_request':
      return [generated('status_code', 'int', 0), generated('text')];
    case 'question_classifier':
      return [generated('class_name')];
    case 'iteration':
      return [generated('output', 'array', [])];
    default:
      return [];
  }
}

/**
 * Checks the outline of a draft and nothing else (CONSOLE-SHAPES §3.3): the console saves
 * half-edited graphs on every drag, so empty names, unset refs and blank URLs are kept. Nodes are
 * never dropped. Keys the console reads unguarded are added when absent (`inputs`, `outputs`,
 * `params`), and the LLM model is stored once, as `model_config` (preferred over a stale
 * `language_model_config` spread from the last read).
 */
export function normalizeDraft(body: unknown): DraftGraph {
  const src = isObj(body) ? body : {};
  const errors: Record<string, string[]> = {};
  const fail = (key: string, msg: string) => (errors[key] ??= []).push(msg);
  const nodesIn = src.nodes ?? [];
  const edgesIn = src.edges ?? [];
  if (!Array.isArray(nodesIn)) fail('nodes', 'nodes must be an array');
  if (!Array.isArray(edgesIn)) fail('edges', 'edges must be an array');
  const nodes = Array.isArray(nodesIn) ? nodesIn : [];
  const edges = Array.isArray(edgesIn) ? edgesIn : [];
  if (nodes.length > GRAPH_LIMITS.maxNodes)
    fail('nodes', `A workflow has at most ${GRAPH_LIMITS.maxNodes} nodes`);
  if (edges.length > GRAPH_LIMITS.maxEdges)
    fail('edges', `A workflow has at most ${GRAPH_LIMITS.maxEdges} edges`);
  nodes.forEach((n, i) => {
    const k = `nodes[${i}]`;
    if (!isObj(n)) return fail(k, `${k} must be an object`);
    if (typeof n.id !== 'string' || !n.id || n.id.length > MAX_ID)
      fail(`${k}.id`, `${k}.id must be a string of 1-${MAX_ID} characters`);
    if (typeof n.node_type !== 'string' || !KNOWN_TYPES.has(n.node_type))
      fail(`${k}.node_type`, `${k}.node_type must be one of ${NODE_TYPES.join(', ')}`);
    if (n.title !== undefined && (typeof n.title !== 'string' || n.title.length > MAX_TITLE))
      fail(`${k}.title`, `${k}.title must be a string of at most ${MAX_TITLE} characters`);
    if (n.description !== undefined && typeof n.description !== 'string')
      fail(`${k}.description`, `${k}.description must be a string`);
    const p = n.position;
    if (p !== undefined && !(isObj(p) && Number.isFinite(p.x) && Number.isFinite(p.y)))
      fail(`${k}.position`, `${k}.position must be {x, y} numbers`);
    for (const f of ['inputs', 'outputs'])
      if (n[f] !== undefined && !Array.isArray(n[f]))
        fail(`${k}.${f}`, `${k}.${f} must be an array`);
  });
  edges.forEach((e, i) => {
    const k = `edges[${i}]`;
    if (!isObj(e)) return fail(k, `${k} must be an object`);
    for (const f of ['id', 'source', 'target'])
      if (typeof e[f] !== 'string' || !e[f] || e[f].length > MAX_ID)
        fail(`${k}.${f}`, `${k}.${f} must be a string of 1-${MAX_ID} characters`);
    for (const f of ['source_type', 'target_type', 'source_handle'])
      if (e[f] !== undefined && e[f] !== null && typeof e[f] !== 'string')
        fail(`${k}.${f}`, `${k}.${f} must be a string`);
  });
  if (Object.keys(errors).length) throw new ValidateError(errors);

  const graph = { nodes: nodes.map((n) => withDefaults(n as Obj)), edges } as DraftGraph;
  if (JSON.stringify(graph).length > GRAPH_LIMITS.maxChars)
    throw new ValidateError({
      graph: [`The graph must be at most ${GRAPH_LIMITS.maxChars} characters of JSON`],
    });
  return graph;
}

function withDefaults(src: Obj): Obj {
  const n: Obj = { ...src };
  const type = n.node_type as string;
  n.title ??= '';
  n.description ??= '';
  n.position ??= { x: 0, y: 0 };
  if (type === 'start') n.inputs ??= [];
  else {
    n.inputs ??= [];
    n.outputs ??= defaultOutputs(type);
  }
  if (type === 'llm' || type === 'question_classifier') {
    const preferred = isObj(n.model_config) ? n.model_config : n.language_model_config;
    delete n.language_model_config;
    if (isObj(preferred)) n.model_config = preferred;
  }
  if (type === 'tool') n.params ??= {};
  if (type === 'dataset_retrieval') n.dataset_ids ??= [];
  return n;
}

/** What reads look up outside the graph: the account's datasets and tools. */
export interface ViewContext {
  datasets: Map<string, { id: string; name: string; icon: string; description: string }>;
  /** The expanded meta of a builtin tool node; null when its tool does not exist. */
  builtinMeta(node: Obj): Obj | null;
  /** The expanded meta of an API tool node of the account; null when its tool does not exist. */
  apiMeta(node: Obj): Obj | null;
}

/**
 * What a read adds to a stored node: the LLM config under both names, the datasets of a
 * retrieval node and the meta of a builtin or API tool node (recomputed, CONSOLE-SHAPES §3.3:
 * a renamed provider shows its new name, a deleted one shows as unset).
 */
export function viewNode(node: Obj, ctx: ViewContext): Obj {
  const n: Obj = { ...node };
  const type = n.node_type;
  if (type === 'llm' || type === 'question_classifier') {
    const cfg = isObj(n.model_config) ? n.model_config : DEFAULT_MODEL_CONFIG;
    n.model_config = cfg;
    n.language_model_config = cfg;
  }
  if (type === 'tool') {
    if (n.tool_type === 'builtin_tool') n.meta = ctx.builtinMeta(n) ?? emptyToolMeta();
    else if (n.tool_type === 'api_tool') n.meta = ctx.apiMeta(n) ?? emptyToolMeta();
    else if (!n.tool_type || !isObj(n.meta)) n.meta = emptyToolMeta();
  }
  if (type === 'dataset_retrieval') {
    const ids = Array.isArray(n.dataset_ids) ? n.dataset_ids : [];
    n.meta = {
      ...(isObj(n.meta) ? n.meta : {}),
      datasets: ids.flatMap((id) => {
        const d = typeof id === 'string' ? ctx.datasets.get(id) : undefined;
        return d ? [d] : [];
      }),
    };
  }
  return n;
}

/** What the console shows for a tool node whose tool is not set or not known (§3.3). */
export function emptyToolMeta(): Obj {
  return {
    type: 'api_tool',
    provider: { id: '', name: '', label: '', icon: '', description: '' },
    tool: { id: '', name: '', label: '', description: '', params: {} },
  };
}

/** Dataset ids named by the graph's retrieval nodes (sub-graphs included). */
export function datasetIdsOf(graph: DraftGraph): string[] {
  const ids = new Set<string>();
  const walk = (g: unknown) => {
    if (!isObj(g) || !Array.isArray(g.nodes)) return;
    for (const n of g.nodes as unknown[]) {
      if (!isObj(n)) continue;
      if (n.node_type === 'dataset_retrieval' && Array.isArray(n.dataset_ids))
        for (const id of n.dataset_ids) if (typeof id === 'string') ids.add(id);
      if (n.node_type === 'iteration') walk(n.graph);
    }
  };
  walk(graph);
  return [...ids];
}
