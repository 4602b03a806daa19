import { isUuid, lazyRequire } from '@app/common';
import {
  CONDITION_OPERATORS,
  ELSE_HANDLE,
  ERROR_HANDLE,
  ERROR_STRATEGIES,
  GRAPH_LIMITS,
  HTTP_METHODS,
  MAX_ITERATION_CONCURRENCY,
  NODE_RUN_LIMITS,
  NODE_TYPES,
  UNARY_OPERATORS,
  VARIABLE_NAME,
  VARIABLE_TYPES,
  type NodeType,
} from './graph.types';

// The Jinja engine loads with the first template checked, not at boot.
const jinja = lazyRequire<typeof import('@huggingface/jinja')>('@huggingface/jinja');

/** One broken rule: `key` is where (`graph`, `nodes.<id>`, `edges.<id>`), `message` says what. */
export interface GraphViolation {
  key: string;
  message: string;
}

/** What the checks need from other modules (tools, datasets, models), per account. */
export interface GraphValidationDeps {
  /** Null when the tool exists and its params are valid; else the reason. */
  toolProblem(ref: {
    type: 'builtin_tool' | 'api_tool' | 'mcp_tool';
    provider: string;
    tool: string;
    params: Record<string, unknown>;
  }): Promise<string | null>;
  /** The ids among `ids` that are datasets of the account. */
  ownedDatasetIds(ids: string[]): Promise<Set<string>>;
  /** Null when `provider/model` is a chat model of the catalogue; else the reason. */
  modelProblem(provider: string, model: string): string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const KNOWN_TYPES = new Set<string>(NODE_TYPES);
/** A `main` function: a declaration, or a const/let/var bound to a function. */
const MAIN_FN = /\b(?:async\s+)?function\s+main\s*\(|\b(?:const|let|var)\s+main\s*=/;

interface NodeInfo {
  id: string;
  type: NodeType;
  title: string;
  raw: Obj;
}

/**
 * Full validation of a workflow graph (CONSOLE-SHAPES §3.5), run at publish and before a debug
 * run. It never stops at the first problem: every violation is collected, each naming the node
 * (title and id) or edge and the rule. Drafts are stored leniently, so the input is any JSON.
 */
export async function validateGraph(
  graph: unknown,
  deps: GraphValidationDeps,
): Promise<GraphViolation[]> {
  const out: GraphViolation[] = [];
  await checkGraph(graph, deps, out, '', '', 0);
  return out;
}

/** The violations as `validate_error` fields: key -> messages (in order). */
export function violationFields(violations: GraphViolation[]): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const v of violations) (fields[v.key] ??= []).push(v.message);
  return fields;
}

export function describeNode(n: { id: string; title: string; type?: string }): string {
  return `Node "${n.title}" (${n.id})`;
}

async function checkGraph(
  graph: unknown,
  deps: GraphValidationDeps,
  out: GraphViolation[],
  keyPrefix: string,
  msgPrefix: string,
  depth: number,
): Promise<void> {
  const add = (key: string, message: string) =>
    out.push({ key: `${keyPrefix}${key}`, message: `${msgPrefix}${message}` });
  if (!isObj(graph) || !Array.isArray(graph.nodes) || !Array.isArray(graph.edges)) {
    add('graph', 'The graph must be an object with nodes and edges arrays');
    return;
  }
  if (graph.nodes.length > GRAPH_LIMITS.maxNodes)
    add('graph', `The graph has more than ${GRAPH_LIMITS.maxNodes} nodes`);
  if (graph.edges.length > GRAPH_LIMITS.maxEdges)
    add('graph', `The graph has more than ${GRAPH_LIMITS.maxEdges} edges`);

  // Nodes: identity, types, titles.
  const nodes = new Map<string, NodeInfo>();
  const titles = new Map<string, NodeInfo>();
  graph.nodes.forEach((raw, i) => {
    if (!isObj(raw) || !str(raw.id)) {
      add(`nodes.${i}`, `Node #${i + 1} must be an object with an id`);
      return;
    }
    const id = str(raw.id);
    const title = str(raw.title).trim();
    const info: NodeInfo = { id, type: str(raw.node_type) as NodeType, title, raw };
    const where = `nodes.${id}`;
    if (nodes.has(id)) {
      add(where, `${describeNode(info)}: the node id is used by another node`);
      return;
    }
    nodes.set(id, info);
    if (!KNOWN_TYPES.has(info.type))
      add(where, `${describeNode(info)}: unknown node_type "${str(raw.node_type)}"`);
    if (!title) add(where, `${describeNode(info)}: the title is required`);
    else if (titles.has(title))
      add(where, `${describeNode(info)}: the title is used by node ${titles.get(title)!.id}`);
    else titles.set(title, info);
  });
  const all = [...nodes.values()];
  const starts = all.filter((n) => n.type === 'start');
  const ends = all.filter((n) => n.type === 'end');
  if (starts.length !== 1)
    add('graph', `The graph must have exactly one start node (it has ${starts.length})`);
  if (ends.length !== 1)
    add('graph', `The graph must have exactly one end node (it has ${ends.length})`);

  // Edges: ids, endpoints, types, handles, duplicates.
  const succ = new Map<string, string[]>(all.map((n) => [n.id, []]));
  const pred = new Map<string, string[]>(all.map((n) => [n.id, []]));
  const edgeIds = new Set<string>();
  const pairs = new Set<string>();
  graph.edges.forEach((raw, i) => {
    if (!isObj(raw) || !str(raw.id)) {
      add(`edges.${i}`, `Edge #${i + 1} must be an object with an id`);
      return;
    }
    const id = str(raw.id);
    const where = `edges.${id}`;
    const e = `Edge ${id}`;
    if (edgeIds.has(id)) {
      add(where, `${e}: the edge id is used by another edge`);
      return;
    }
    edgeIds.add(id);
    const source = nodes.get(str(raw.source));
    const target = nodes.get(str(raw.target));
    if (!source) add(where, `${e}: its source node "${str(raw.source)}" does not exist`);
    if (!target) add(where, `${e}: its target node "${str(raw.target)}" does not exist`);
    if (!source || !target) return;
    if (raw.source_type !== source.type)
      add(where, `${e}: source_type must be "${source.type}", the type of ${describeNode(source)}`);
    if (raw.target_type !== target.type)
      add(where, `${e}: target_type must be "${target.type}", the type of ${describeNode(target)}`);
    const handle = str(raw.source_handle);
    const handles = branchHandles(source);
    if (handle === ERROR_HANDLE && source.raw.error_strategy === 'error_branch') {
      // The error branch of a node that may fail into it: allowed whatever its other handles.
    } else if (handle === ERROR_HANDLE && !handles?.has(handle))
      add(
        where,
        `${e}: source_handle "${ERROR_HANDLE}" needs error_strategy "error_branch" on ${describeNode(source)}`,
      );
    else if (handles && !handles.has(handle))
      add(
        where,
        `${e}: source_handle "${handle}" is not a branch of ${describeNode(source)} (one of ${[...handles].join(', ')})`,
      );
    else if (!handles && handle)
      add(
        where,
        `${e}: ${describeNode(source)} has no branches, so the edge takes no source_handle`,
      );
    const pair = `${source.id}>${target.id}>${handle}`;
    if (pairs.has(pair))
      add(where, `${e}: another edge already joins ${source.id} to ${target.id}`);
    pairs.add(pair);
    succ.get(source.id)!.push(target.id);
    pred.get(target.id)!.push(source.id);
  });

  // Shape: degrees, reachability, cycles.
  for (const n of all) {
    const where = `nodes.${n.id}`;
    const indeg = pred.get(n.id)!.length;
    const outdeg = succ.get(n.id)!.length;
    if (n.type === 'start' && indeg > 0)
      add(where, `${describeNode(n)}: the start node cannot have incoming edges`);
    if (n.type !== 'start' && indeg === 0)
      add(where, `${describeNode(n)}: the node has no incoming edge (only the start node may)`);
    if (n.type === 'end' && outdeg > 0)
      add(where, `${describeNode(n)}: the end node cannot have outgoing edges`);
    if (n.type !== 'end' && outdeg === 0)
      add(where, `${describeNode(n)}: the node has no outgoing edge (only the end node may)`);
  }
  if (starts.length === 1) {
    const reached = closure(starts[0].id, succ);
    for (const n of all)
      if (n.type !== 'start' && !reached.has(n.id))
        add(`nodes.${n.id}`, `${describeNode(n)}: the node is not reachable from the start node`);
  }
  for (const cycle of cycles(all, succ)) {
    const first = nodes.get(cycle[0])!;
    const names = cycle.map((id) => `"${nodes.get(id)!.title}"`).join(' -> ');
    add(`nodes.${first.id}`, `${describeNode(first)}: the graph has a cycle through ${names}`);
  }

  // Variables and references, then each node's own rules.
  for (const n of all) {
    const ancestors = closure(n.id, pred);
    ancestors.delete(n.id);
    checkVariables(n, nodes, ancestors, (m) => add(`nodes.${n.id}`, `${describeNode(n)}: ${m}`));
  }
  for (const n of all) {
    const report = (m: string) => add(`nodes.${n.id}`, `${describeNode(n)}: ${m}`);
    checkRunSettings(n, report);
    await checkNode(n, deps, report);
    if (n.type === 'iteration') {
      if (depth + 1 >= GRAPH_LIMITS.maxDepth) {
        report(`iterations may be nested at most ${GRAPH_LIMITS.maxDepth - 1} deep`);
      } else if (!isObj(n.raw.graph)) {
        report('the iteration needs a sub-graph (graph: {nodes, edges})');
      } else {
        const before = out.length;
        await checkGraph(
          n.raw.graph,
          deps,
          out,
          `${keyPrefix}nodes.${n.id}.graph.`,
          `${msgPrefix}In the sub-graph of ${describeNode(n)}: `,
          depth + 1,
        );
        if (out.length === before) checkIterationStart(n.raw.graph, report);
      }
    }
  }
}

/** The handles an edge from this node must name, or null for nodes without branches. */
function branchHandles(n: NodeInfo): Set<string> | null {
  if (n.type === 'if_else')
    return new Set([...arr(n.raw.branches).map((b) => str(isObj(b) ? b.id : '')), ELSE_HANDLE]);
  if (n.type === 'question_classifier')
    return new Set(arr(n.raw.classes).map((c) => str(isObj(c) ? c.id : '')));
  return null;
}

function closure(from: string, next: Map<string, string[]>): Set<string> {
  const seen = new Set([from]);
  const stack = [from];
  while (stack.length) {
    for (const m of next.get(stack.pop()!) ?? [])
      if (!seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
  }
  return seen;
}

/** Each cycle once (strongly connected components with more than one node, or a self-loop). */
function cycles(all: NodeInfo[], succ: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of succ.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (succ.get(v) ?? []).includes(v)) found.push(comp.reverse());
    }
  };
  // At most GRAPH_LIMITS.maxNodes deep, so recursion is safe.
  for (const n of all) if (!idx.has(n.id)) visit(n.id);
  return found;
}

/** The variable names a node offers to its successors. */
function offered(n: NodeInfo): Set<string> {
  const list = n.type === 'start' ? arr(n.raw.inputs) : arr(n.raw.outputs);
  return new Set(list.map((v) => str(isObj(v) ? v.name : '')).filter(Boolean));
}

function checkVariables(
  n: NodeInfo,
  nodes: Map<string, NodeInfo>,
  ancestors: Set<string>,
  report: (m: string) => void,
): void {
  const lists: Array<['inputs' | 'outputs', boolean]> =
    n.type === 'start'
      ? [['inputs', true]]
      : [
          ['inputs', false],
          ['outputs', false],
        ];
  for (const [field, isStart] of lists) {
    const list = n.raw[field];
    if (list === undefined && field === 'inputs' && !isStart) continue;
    if (!Array.isArray(list)) {
      report(`${field} must be an array`);
      continue;
    }
    const names = new Set<string>();
    list.forEach((v, i) => {
      if (!isObj(v)) return report(`${field}[${i}] must be an object`);
      const name = str(v.name);
      const label = `${field}[${i}]${name ? ` "${name}"` : ''}`;
      if (!VARIABLE_NAME.test(name))
        report(`${label}: the name must match ${VARIABLE_NAME.source}`);
      else if (names.has(name)) report(`${label}: the name is used twice in ${field}`);
      names.add(name);
      if (!(VARIABLE_TYPES as readonly unknown[]).includes(v.type))
        report(`${label}: type must be one of ${VARIABLE_TYPES.join(', ')}`);
      if (isStart) return;
      const value = v.value;
      if (!isObj(value)) return report(`${label}: value must be an object {type, content}`);
      const kind = str(value.type);
      // Outputs of the end node are what the run returns: literals or refs; other outputs are
      // produced by the node.
      const allowed = field === 'inputs' || n.type === 'end' ? ['literal', 'ref'] : ['generated'];
      if (!allowed.includes(kind))
        return report(`${label}: value.type must be ${allowed.join(' or ')}`);
      if (kind !== 'ref') return;
      const ref = isObj(value.content) ? value.content : {};
      const refId = str(ref.ref_node_id);
      const refVar = str(ref.ref_var_name);
      if (!refId || !refVar) return report(`${label}: the reference is not set`);
      const target = nodes.get(refId);
      if (!target) return report(`${label}: it refers to node ${refId}, which does not exist`);
      if (!ancestors.has(refId))
        return report(`${label}: it refers to ${describeNode(target)}, which is not a predecessor`);
      if (!offered(target).has(refVar))
        report(
          `${label}: ${describeNode(target)} has no ${target.type === 'start' ? 'input' : 'output'} "${refVar}"`,
        );
    });
  }
}

function inputNames(n: NodeInfo): Set<string> {
  return new Set(arr(n.raw.inputs).map((v) => str(isObj(v) ? v.name : '')));
}

function requireOutput(n: NodeInfo, name: string, report: (m: string) => void): void {
  if (Array.isArray(n.raw.outputs) && !offered(n).has(name))
    report(`the ${n.type} node must have the output "${name}"`);
}

function checkModel(n: NodeInfo, deps: GraphValidationDeps, report: (m: string) => void): void {
  // The editor writes model_config; a stale language_model_config may come along.
  const cfg = isObj(n.raw.model_config) ? n.raw.model_config : n.raw.language_model_config;
  const provider = str(isObj(cfg) ? cfg.provider : '');
  const model = str(isObj(cfg) ? cfg.model : '');
  if (!provider || !model) return report('a model is required (model_config.provider and .model)');
  const problem = deps.modelProblem(provider, model);
  if (problem) report(`the model ${provider}/${model} cannot be used: ${problem}`);
}

async function checkNode(
  n: NodeInfo,
  deps: GraphValidationDeps,
  report: (m: string) => void,
): Promise<void> {
  const raw = n.raw;
  switch (n.type) {
    case 'llm': {
      checkModel(n, deps, report);
      if (!str(raw.prompt).trim()) report('the prompt is required');
      requireOutput(n, 'output', report);
      break;
    }
    case 'tool': {
      const type = str(raw.tool_type);
      if (type !== 'builtin_tool' && type !== 'api_tool' && type !== 'mcp_tool') {
        report('tool_type must be builtin_tool, api_tool or mcp_tool (no tool is chosen)');
        break;
      }
      const provider = str(raw.provider_id);
      const tool = str(raw.tool_id);
      if (!provider || !tool) {
        report('provider_id and tool_id are required');
        break;
      }
      if (raw.params !== undefined && !isObj(raw.params)) report('params must be an object');
      const problem = await deps.toolProblem({
        type,
        provider,
        tool,
        params: isObj(raw.params) ? raw.params : {},
      });
      if (problem) report(`the tool ${type}/${provider}/${tool} cannot be used: ${problem}`);
      requireOutput(n, 'text', report);
      break;
    }
    case 'code': {
      const code = str(raw.code);
      if (!code.trim()) report('the code is required');
      else if (!MAIN_FN.test(code)) report('the code must define a function main(params)');
      break;
    }
    case 'dataset_retrieval': {
      const ids = raw.dataset_ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > 5) {
        report('dataset_ids must list 1 to 5 datasets');
      } else {
        const valid = ids.filter((x): x is string => typeof x === 'string' && isUuid(x));
        const owned = await deps.ownedDatasetIds(valid);
        for (const id of ids)
          if (typeof id !== 'string' || !owned.has(id))
            report(`the dataset ${String(id)} does not exist`);
      }
      const cfg = isObj(raw.retrieval_config) ? raw.retrieval_config : null;
      if (!cfg) report('retrieval_config is required');
      else {
        if (!['semantic', 'full_text', 'hybrid'].includes(str(cfg.retrieval_strategy)))
          report('retrieval_config.retrieval_strategy must be semantic, full_text or hybrid');
        if (!Number.isInteger(cfg.k) || (cfg.k as number) < 1 || (cfg.k as number) > 10)
          report('retrieval_config.k must be an integer from 1 to 10');
        if (typeof cfg.score !== 'number' || cfg.score < 0 || cfg.score > 0.99)
          report('retrieval_config.score must be a number from 0 to 0.99');
      }
      const inputs = arr(raw.inputs);
      const q = inputs[0];
      if (
        inputs.length !== 1 ||
        !isObj(q) ||
        q.name !== 'query' ||
        !isObj(q.value) ||
        q.value.type !== 'ref'
      )
        report('the node must have exactly one input, "query", referring to a variable');
      requireOutput(n, 'combine_documents', report);
      break;
    }
    case 'http_request': {
      const url = str(raw.url);
      let ok = false;
      try {
        const u = new URL(url);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
      } catch {
        ok = false;
      }
      if (!ok) report('url must be a valid http(s) URL');
      if (!(HTTP_METHODS as readonly unknown[]).includes(raw.method))
        report(`method must be one of ${HTTP_METHODS.join(', ')}`);
      arr(raw.inputs).forEach((v, i) => {
        const place = isObj(v) && isObj(v.meta) ? v.meta.type : undefined;
        if (place !== 'params' && place !== 'headers' && place !== 'body')
          report(`inputs[${i}]: meta.type must be params, headers or body`);
      });
      requireOutput(n, 'status_code', report);
      requireOutput(n, 'text', report);
      break;
    }
    case 'template_transform': {
      const template = str(raw.template);
      if (!template.trim()) report('the template is required');
      else {
        try {
          new (jinja().Template)(template);
        } catch (e) {
          report(`the template does not parse: ${(e as Error).message}`);
        }
      }
      requireOutput(n, 'output', report);
      break;
    }
    case 'if_else': {
      const branches = raw.branches;
      if (!Array.isArray(branches) || branches.length === 0) {
        report('the node needs at least one branch');
        break;
      }
      const names = inputNames(n);
      const ids = new Set<string>();
      branches.forEach((b, i) => {
        const where = `branches[${i}]`;
        if (!isObj(b)) return report(`${where} must be an object`);
        const id = str(b.id);
        if (!id) report(`${where}: the branch id is required`);
        else if (id === ELSE_HANDLE || id === ERROR_HANDLE) report(`${where}: "${id}" is reserved`);
        else if (ids.has(id)) report(`${where}: the branch id "${id}" is used twice`);
        ids.add(id);
        if (b.logical_operator !== 'and' && b.logical_operator !== 'or')
          report(`${where}: logical_operator must be and or or`);
        const conditions = b.conditions;
        if (!Array.isArray(conditions) || conditions.length === 0)
          return report(`${where}: the branch needs at least one condition`);
        conditions.forEach((c, j) => {
          const cw = `${where}.conditions[${j}]`;
          if (!isObj(c)) return report(`${cw} must be an object`);
          if (!names.has(str(c.variable)))
            report(`${cw}: variable "${str(c.variable)}" is not an input of the node`);
          const op = c.operator;
          if (!(CONDITION_OPERATORS as readonly unknown[]).includes(op))
            report(`${cw}: operator must be one of ${CONDITION_OPERATORS.join(', ')}`);
          else if (!UNARY_OPERATORS.includes(op as never) && c.value === undefined)
            report(`${cw}: the operator ${String(op)} needs a value`);
        });
      });
      break;
    }
    case 'question_classifier': {
      checkModel(n, deps, report);
      if (!inputNames(n).has('query')) report('the node needs an input named "query"');
      const classes = raw.classes;
      if (!Array.isArray(classes) || classes.length < 2)
        report('the node needs at least two classes');
      const ids = new Set<string>();
      arr(classes).forEach((c, i) => {
        if (!isObj(c)) return report(`classes[${i}] must be an object`);
        const id = str(c.id);
        if (!id) report(`classes[${i}]: the class id is required`);
        else if (id === ERROR_HANDLE) report(`classes[${i}]: "${ERROR_HANDLE}" is reserved`);
        else if (ids.has(id)) report(`classes[${i}]: the class id "${id}" is used twice`);
        ids.add(id);
        if (!str(c.name).trim()) report(`classes[${i}]: the class name is required`);
      });
      requireOutput(n, 'class_name', report);
      break;
    }
    case 'iteration': {
      const items = arr(raw.inputs).find((v) => isObj(v) && v.name === 'items');
      if (!isObj(items) || !isObj(items.value) || items.value.type !== 'ref')
        report('the node needs an input "items" referring to an array');
      const c = raw.concurrency;
      if (!Number.isInteger(c) || (c as number) < 1 || (c as number) > MAX_ITERATION_CONCURRENCY)
        report(`concurrency must be an integer from 1 to ${MAX_ITERATION_CONCURRENCY}`);
      requireOutput(n, 'output', report);
      break;
    }
    default:
      break;
  }
}

/** The sub-graph's start node receives each item as `item`. */
function checkIterationStart(graph: Obj, report: (m: string) => void): void {
  const start = arr(graph.nodes).find((x): x is Obj => isObj(x) && x.node_type === 'start');
  const names = new Set(arr(start?.inputs).map((v) => str(isObj(v) ? v.name : '')));
  if (!names.has('item')) report('the start node of the sub-graph needs an input named "item"');
}

const isIntIn = (v: unknown, min: number, max: number): boolean =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** The optional per-node run settings (timeout, retry, error strategy) of graph.types. */
function checkRunSettings(n: NodeInfo, report: (m: string) => void): void {
  const raw = n.raw;
  const has = (k: string) => raw[k] !== undefined && raw[k] !== null;
  if (
    (n.type === 'start' || n.type === 'end') &&
    ['timeout_ms', 'retry', 'error_strategy'].some(has)
  )
    return report('the start and end nodes take no timeout, retry or error strategy');
  if (has('timeout_ms') && !isIntIn(raw.timeout_ms, 1, NODE_RUN_LIMITS.maxTimeoutMs))
    report(`timeout_ms must be an integer from 1 to ${NODE_RUN_LIMITS.maxTimeoutMs}`);
  if (has('retry')) {
    const r = raw.retry;
    if (!isObj(r) || !isIntIn(r.max_retries, 0, NODE_RUN_LIMITS.maxRetries))
      report(`retry.max_retries must be an integer from 0 to ${NODE_RUN_LIMITS.maxRetries}`);
    else if (r.backoff_ms !== undefined && !isIntIn(r.backoff_ms, 0, NODE_RUN_LIMITS.maxBackoffMs))
      report(`retry.backoff_ms must be an integer from 0 to ${NODE_RUN_LIMITS.maxBackoffMs}`);
  }
  if (
    has('error_strategy') &&
    !(ERROR_STRATEGIES as readonly unknown[]).includes(raw.error_strategy)
  )
    report(`error_strategy must be one of ${ERROR_STRATEGIES.join(', ')}`);
  if (has('default_outputs') && !isObj(raw.default_outputs))
    report('default_outputs must be an object');
}
