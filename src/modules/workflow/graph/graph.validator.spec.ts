import {
  validateGraph,
  violationFields,
  type GraphValidationDeps,
  type GraphViolation,
} from './graph.validator';

/**
 * Full-graph validation: a graph using every node type passes; each test breaks one rule of it
 * and expects exactly that violation (or, where one change necessarily breaks two rules, both),
 * naming the node by title and id.
 */

const DATASET = '0b6a2b8e-8d6f-4a59-9a57-0a8f3c1c2d10';
const OTHER_DATASET = '7d1f0a3e-1111-4c2b-8e57-9a0b1c2d3e4f';

type Node = Record<string, unknown> & { id: string; node_type: string; title: string };
type Edge = Record<string, unknown> & { id: string; source: string; target: string };
interface Graph {
  nodes: Node[];
  edges: Edge[];
}

const deps: GraphValidationDeps = {
  toolProblem: (ref) =>
    Promise.resolve(
      ref.type === 'builtin_tool' && ref.provider === 'time' && ref.tool === 'current_time'
        ? null
        : 'The tool does not exist',
    ),
  ownedDatasetIds: (ids) => Promise.resolve(new Set(ids.filter((id) => id === DATASET))),
  modelProblem: (provider, model) =>
    provider === 'openai' && model === 'gpt-4o-mini' ? null : `The model "${model}" does not exist`,
};

const gen = (name: string, type = 'string') => ({
  name,
  description: '',
  required: true,
  type,
  value: { type: 'generated', content: '' },
  meta: {},
});
const ref = (name: string, node: string, variable: string, extra: object = {}) => ({
  name,
  description: '',
  required: true,
  type: 'string',
  value: { type: 'ref', content: { ref_node_id: node, ref_var_name: variable } },
  meta: {},
  ...extra,
});
const node = (id: string, node_type: string, title: string, fields: object = {}): Node => ({
  id,
  node_type,
  title,
  description: '',
  position: { x: 0, y: 0 },
  ...fields,
});
const MODEL = { provider: 'openai', model: 'gpt-4o-mini', parameters: {} };

function validGraph(): Graph {
  const nodes: Node[] = [
    node('S', 'start', 'Start', {
      inputs: [{ name: 'q', type: 'string', description: '', required: true }],
    }),
    node('L', 'llm', 'LLM', {
      prompt: 'Answer {{q}}',
      model_config: MODEL,
      inputs: [ref('q', 'S', 'q')],
      outputs: [gen('output')],
    }),
    node('T', 'tool', 'Tool', {
      tool_type: 'builtin_tool',
      provider_id: 'time',
      tool_id: 'current_time',
      params: {},
      inputs: [],
      outputs: [gen('text')],
      meta: {},
    }),
    node('C', 'code', 'Code', {
      code: 'function main(params) { return { r: 1 } }',
      inputs: [ref('t', 'T', 'text')],
      outputs: [gen('r', 'int')],
    }),
    node('D', 'dataset_retrieval', 'Retrieval', {
      dataset_ids: [DATASET],
      retrieval_config: { retrieval_strategy: 'semantic', k: 4, score: 0 },
      inputs: [ref('query', 'S', 'q')],
      outputs: [gen('combine_documents')],
      meta: {},
    }),
    node('H', 'http_request', 'HTTP', {
      url: 'https://example.com/api',
      method: 'get',
      inputs: [
        {
          name: 'k',
          description: '',
          required: true,
          type: 'string',
          value: { type: 'literal', content: 'v' },
          meta: { type: 'params' },
        },
      ],
      outputs: [gen('status_code', 'int'), gen('text')],
    }),
    node('X', 'template_transform', 'Template', {
      template: '{{ a }} and {% if a %}yes{% endif %}',
      inputs: [ref('a', 'L', 'output')],
      outputs: [gen('output')],
    }),
    node('I', 'if_else', 'If', {
      inputs: [ref('x', 'C', 'r')],
      branches: [
        {
          id: 'big',
          logical_operator: 'and',
          conditions: [
            { variable: 'x', operator: 'gt', value: 0 },
            { variable: 'x', operator: 'is_not_empty' },
          ],
        },
      ],
      outputs: [],
    }),
    node('Q', 'question_classifier', 'Classifier', {
      model_config: MODEL,
      instruction: '',
      inputs: [ref('query', 'S', 'q')],
      classes: [
        { id: 'a', name: 'About A' },
        { id: 'b', name: 'About B' },
      ],
      outputs: [gen('class_name')],
    }),
    node('IT', 'iteration', 'Loop', {
      inputs: [ref('items', 'S', 'q', { type: 'array' })],
      concurrency: 2,
      graph: {
        nodes: [
          node('s1', 'start', 'Item', {
            inputs: [{ name: 'item', type: 'string', description: '', required: true }],
          }),
          node('e1', 'end', 'Done', { outputs: [ref('o', 's1', 'item')] }),
        ],
        edges: [{ id: 'se', source: 's1', source_type: 'start', target: 'e1', target_type: 'end' }],
      },
      outputs: [gen('output', 'array')],
    }),
    node('E', 'end', 'End', {
      outputs: [ref('answer', 'L', 'output'), ref('text', 'X', 'output')],
    }),
  ];
  const types = new Map(nodes.map((n) => [n.id, n.node_type]));
  const edge = (source: string, target: string, handle?: string): Edge => ({
    id: `${source}-${target}${handle ? `-${handle}` : ''}`,
    source,
    source_type: types.get(source),
    target,
    target_type: types.get(target),
    ...(handle ? { source_handle: handle } : {}),
  });
  const edges = [
    edge('S', 'L'),
    edge('L', 'T'),
    edge('T', 'C'),
    edge('C', 'D'),
    edge('D', 'H'),
    edge('H', 'X'),
    edge('X', 'I'),
    edge('I', 'Q', 'big'),
    edge('I', 'E', 'else'),
    edge('Q', 'IT', 'a'),
    edge('Q', 'E', 'b'),
    edge('IT', 'E'),
  ];
  return { nodes, edges };
}

const byId = (g: Graph, id: string): Node => g.nodes.find((n) => n.id === id)!;
const input0 = (g: Graph, id: string) => (byId(g, id).inputs as Array<Record<string, unknown>>)[0];
const run = (g: unknown): Promise<GraphViolation[]> => validateGraph(g, deps);

/** Applies `mutate` to a valid graph and expects exactly the violations matching `patterns`. */
async function expectOnly(mutate: (g: Graph) => void, ...patterns: RegExp[]): Promise<void> {
  const g = validGraph();
  mutate(g);
  const found = await run(g);
  expect(found.map((v) => v.message)).toEqual(patterns.map((p) => expect.stringMatching(p)));
}

describe('validateGraph', () => {
  it('passes a graph using every node type', async () => {
    expect(await run(validGraph())).toEqual([]);
  });

  it('refuses what is not a graph', async () => {
    expect(await run({ nodes: {} })).toEqual([
      { key: 'graph', message: expect.stringMatching(/nodes and edges arrays/) },
    ]);
  });

  describe('run settings (timeout, retry, error strategy)', () => {
    it('accepts them, and an error edge from a node failing into its error branch', async () => {
      const g = validGraph();
      Object.assign(byId(g, 'H'), {
        timeout_ms: 5000,
        retry: { max_retries: 2, backoff_ms: 100 },
        error_strategy: 'error_branch',
      });
      Object.assign(byId(g, 'T'), {
        error_strategy: 'default_value',
        default_outputs: { text: '' },
      });
      g.edges.push({
        id: 'H-E-error',
        source: 'H',
        source_type: 'http_request',
        target: 'E',
        target_type: 'end',
        source_handle: 'error',
      });
      expect(await run(g)).toEqual([]);
    });

    it('an error edge needs error_strategy error_branch', () =>
      expectOnly(
        (g) =>
          g.edges.push({
            id: 'H-E-error',
            source: 'H',
            source_type: 'http_request',
            target: 'E',
            target_type: 'end',
            source_handle: 'error',
          }),
        /Edge H-E-error: source_handle "error" needs error_strategy "error_branch"/,
      ));

    it('bounded values', () =>
      expectOnly(
        (g) =>
          Object.assign(byId(g, 'H'), {
            timeout_ms: 0,
            retry: { max_retries: 11 },
            error_strategy: 'ignore',
            default_outputs: [],
          }),
        /timeout_ms must be an integer from 1 to 600000/,
        /retry.max_retries must be an integer from 0 to 10/,
        /error_strategy must be one of fail, default_value, error_branch/,
        /default_outputs must be an object/,
      ));

    it('"error" is reserved as a branch or class id', () =>
      expectOnly(
        (g) => {
          (byId(g, 'I').branches as Array<{ id: string }>)[0].id = 'error';
          (byId(g, 'Q').classes as Array<{ id: string }>)[0].id = 'error';
          for (const e of g.edges) {
            if (e.source === 'I' && e.source_handle === 'big') e.source_handle = 'error';
            if (e.source === 'Q' && e.source_handle === 'a') e.source_handle = 'error';
          }
        },
        /Node "If" \(I\): branches\[0\]: "error" is reserved/,
        /Node "Classifier" \(Q\): classes\[0\]: "error" is reserved/,
      ));

    it('none on start and end', () =>
      expectOnly(
        (g) => (byId(g, 'E').timeout_ms = 10),
        /Node "End" \(E\): the start and end nodes take no timeout/,
      ));
  });

  describe('nodes', () => {
    it('exactly one start node', () =>
      expectOnly((g) => {
        g.nodes.push(node('S2', 'start', 'Start 2', { inputs: [] }));
        g.edges.push({
          id: 'S2-L',
          source: 'S2',
          source_type: 'start',
          target: 'L',
          target_type: 'llm',
        });
      }, /exactly one start node \(it has 2\)/));

    it('exactly one end node', () =>
      expectOnly((g) => {
        g.nodes.push(node('E2', 'end', 'End 2', { outputs: [] }));
        g.edges.push({
          id: 'H-E2',
          source: 'H',
          source_type: 'http_request',
          target: 'E2',
          target_type: 'end',
        });
      }, /exactly one end node \(it has 2\)/));

    it('unique ids', () =>
      expectOnly(
        (g) => g.nodes.push({ ...byId(g, 'X'), title: 'Another' }),
        /^Node "Another" \(X\): the node id is used by another node$/,
      ));

    it('unique titles after trimming', () =>
      expectOnly(
        (g) => (byId(g, 'T').title = '  LLM '),
        /^Node "LLM" \(T\): the title is used by node L$/,
      ));

    it('a title', () =>
      expectOnly((g) => (byId(g, 'T').title = '  '), /Node "" \(T\): the title is required/));

    it('a known node type', () =>
      expectOnly((g) => {
        byId(g, 'X').node_type = 'foo';
        for (const e of g.edges) {
          if (e.source === 'X') e.source_type = 'foo';
          if (e.target === 'X') e.target_type = 'foo';
        }
      }, /Node "Template" \(X\): unknown node_type "foo"/));

    it('an outputs array on every node but start', () =>
      expectOnly(
        (g) => delete byId(g, 'I').outputs,
        /^Node "If" \(I\): outputs must be an array$/,
      ));
  });

  describe('edges', () => {
    it('to existing nodes', () =>
      expectOnly(
        (g) =>
          g.edges.push({
            id: 'bad',
            source: 'S',
            source_type: 'start',
            target: 'ghost',
            target_type: 'llm',
          }),
        /^Edge bad: its target node "ghost" does not exist$/,
      ));

    it('with the types of their nodes', () =>
      expectOnly((g) => (g.edges[0].source_type = 'llm'), /Edge S-L: source_type must be "start"/));

    it('unique ids', () =>
      expectOnly(
        (g) => g.edges.push({ ...g.edges[1], target: 'E' }),
        /Edge L-T: the edge id is used by another edge/,
      ));

    it('no two edges joining the same nodes', () =>
      expectOnly(
        (g) => g.edges.push({ ...g.edges[0], id: 'again' }),
        /Edge again: another edge already joins S to L/,
      ));

    it('a branch handle from if_else', () =>
      expectOnly(
        (g) => (g.edges.find((e) => e.id === 'I-Q-big')!.source_handle = 'nope'),
        /source_handle "nope" is not a branch of Node "If" \(I\) \(one of big, else\)/,
      ));

    it('a class handle from question_classifier', () =>
      expectOnly(
        (g) => delete g.edges.find((e) => e.id === 'Q-E-b')!.source_handle,
        /source_handle "" is not a branch of Node "Classifier" \(Q\)/,
      ));

    it('no handle from other nodes', () =>
      expectOnly(
        (g) => (g.edges[0].source_handle = 'x'),
        /Edge S-L: Node "Start" \(S\) has no branches/,
      ));
  });

  describe('shape', () => {
    it('every node but end has an outgoing edge', () =>
      expectOnly((g) => {
        g.nodes.push(
          node('N', 'template_transform', 'Dead end', {
            template: 'x',
            inputs: [],
            outputs: [gen('output')],
          }),
        );
        g.edges.push({
          id: 'H-N',
          source: 'H',
          source_type: 'http_request',
          target: 'N',
          target_type: 'template_transform',
        });
      }, /Node "Dead end" \(N\): the node has no outgoing edge/));

    it('every node but start has an incoming edge (and so is reachable)', () =>
      expectOnly(
        (g) => {
          g.nodes.push(
            node('N', 'template_transform', 'Orphan', {
              template: 'x',
              inputs: [],
              outputs: [gen('output')],
            }),
          );
          g.edges.push({
            id: 'N-E',
            source: 'N',
            source_type: 'template_transform',
            target: 'E',
            target_type: 'end',
          });
        },
        /Node "Orphan" \(N\): the node has no incoming edge/,
        /Node "Orphan" \(N\): the node is not reachable from the start node/,
      ));

    it('every node reachable from start', () =>
      expectOnly(
        (g) => {
          const t = (id: string, title: string) =>
            node(id, 'template_transform', title, {
              template: 'x',
              inputs: [],
              outputs: [gen('output')],
            });
          g.nodes.push(t('A', 'Island A'), t('B', 'Island B'));
          const e = (s: string, d: string, dt = 'template_transform') => ({
            id: `${s}-${d}`,
            source: s,
            source_type: 'template_transform',
            target: d,
            target_type: dt,
          });
          g.edges.push(e('A', 'B'), e('B', 'A'), e('B', 'E', 'end'));
        },
        /Node "Island A" \(A\): the node is not reachable/,
        /Node "Island B" \(B\): the node is not reachable/,
        /the graph has a cycle through "Island A" -> "Island B"|the graph has a cycle through "Island B" -> "Island A"/,
      ));

    it('no cycles', () =>
      expectOnly(
        (g) =>
          g.edges.push({
            id: 'T-L',
            source: 'T',
            source_type: 'tool',
            target: 'L',
            target_type: 'llm',
          }),
        /the graph has a cycle through "LLM" -> "Tool"/,
      ));

    it('no edge into start', () =>
      expectOnly(
        (g) =>
          g.edges.push({
            id: 'L-S',
            source: 'L',
            source_type: 'llm',
            target: 'S',
            target_type: 'start',
          }),
        /Node "Start" \(S\): the start node cannot have incoming edges/,
        /the graph has a cycle/,
      ));
  });

  describe('variables and references', () => {
    it('refs only to predecessors', () =>
      expectOnly(
        (g) => (byId(g, 'L').inputs = [ref('q', 'C', 'r')]),
        /Node "LLM" \(L\): inputs\[0\] "q": it refers to Node "Code" \(C\), which is not a predecessor/,
      ));

    it('refs to existing variables (start inputs, other nodes outputs)', () =>
      expectOnly(
        (g) => (byId(g, 'E').outputs = [ref('a', 'S', 'nope'), ref('b', 'L', 'q')]),
        /Node "End" \(E\): outputs\[0\] "a": Node "Start" \(S\) has no input "nope"/,
        /Node "End" \(E\): outputs\[1\] "b": Node "LLM" \(L\) has no output "q"/,
      ));

    it('refs to existing nodes', () =>
      expectOnly(
        (g) => (byId(g, 'L').inputs = [ref('q', 'ghost', 'q')]),
        /it refers to node ghost, which does not exist/,
      ));

    it('refs that are set (a half-edited draft)', () =>
      expectOnly(
        (g) => (byId(g, 'L').inputs = [ref('q', '', '')]),
        /inputs\[0\] "q": the reference is not set/,
      ));

    it('variable names', () =>
      expectOnly(
        (g) => (input0(g, 'L').name = '1q'),
        /Node "LLM" \(L\): inputs\[0\] "1q": the name must match/,
      ));

    it('unique variable names', () =>
      expectOnly(
        (g) => (byId(g, 'C').outputs = [gen('r'), gen('r')]),
        /outputs\[1\] "r": the name is used twice in outputs/,
      ));

    it('variable types', () =>
      expectOnly((g) => (input0(g, 'L').type = 'date'), /inputs\[0\] "q": type must be one of/));

    it('start inputs are named', () =>
      expectOnly(
        (g) =>
          (byId(g, 'S').inputs = [{ name: '', type: 'string', description: '', required: true }]),
        /Node "Start" \(S\): inputs\[0\]: the name must match/,
        // The references to S.q now point at nothing.
        /Node "LLM" \(L\): inputs\[0\] "q": Node "Start" \(S\) has no input "q"/,
        /Node "Retrieval" \(D\): inputs\[0\] "query": Node "Start" \(S\) has no input "q"/,
        /Node "Classifier" \(Q\): inputs\[0\] "query": Node "Start" \(S\) has no input "q"/,
        /Node "Loop" \(IT\): inputs\[0\] "items": Node "Start" \(S\) has no input "q"/,
      ));

    it('end outputs are literals or refs, not generated', () =>
      expectOnly(
        (g) => (byId(g, 'E').outputs = [gen('x')]),
        /Node "End" \(E\): outputs\[0\] "x": value.type must be literal or ref/,
      ));

    it('other outputs are generated', () =>
      expectOnly(
        (g) =>
          (byId(g, 'C').outputs = [{ ...gen('r', 'int'), value: { type: 'literal', content: 1 } }]),
        /Node "Code" \(C\): outputs\[0\] "r": value.type must be generated/,
      ));
  });

  describe('node rules', () => {
    it('llm: a model', () =>
      expectOnly((g) => delete byId(g, 'L').model_config, /Node "LLM" \(L\): a model is required/));

    it('llm: language_model_config is accepted when model_config is absent', async () => {
      const g = validGraph();
      const l = byId(g, 'L');
      l.language_model_config = l.model_config;
      delete l.model_config;
      expect(await run(g)).toEqual([]);
    });

    it('llm: a model of the catalogue', () =>
      expectOnly(
        (g) => (byId(g, 'L').model_config = { ...MODEL, model: 'gpt-9' }),
        /Node "LLM" \(L\): the model openai\/gpt-9 cannot be used: The model "gpt-9" does not exist/,
      ));

    it('llm: a prompt', () =>
      expectOnly((g) => (byId(g, 'L').prompt = ' '), /Node "LLM" \(L\): the prompt is required/));

    it('tool: a chosen tool', () =>
      expectOnly(
        (g) => (byId(g, 'T').tool_type = ''),
        /Node "Tool" \(T\): tool_type must be builtin_tool, api_tool or mcp_tool/,
      ));

    it('tool: a tool that exists', () =>
      expectOnly(
        (g) =>
          Object.assign(byId(g, 'T'), {
            tool_type: 'api_tool',
            provider_id: DATASET,
            tool_id: 'op',
          }),
        /Node "Tool" \(T\): the tool api_tool\/.+\/op cannot be used: The tool does not exist/,
      ));

    it('code: main', () =>
      expectOnly(
        (g) => (byId(g, 'C').code = 'return 1'),
        /Node "Code" \(C\): the code must define a function main\(params\)/,
      ));

    it('code: not empty', () =>
      expectOnly((g) => (byId(g, 'C').code = ''), /Node "Code" \(C\): the code is required/));

    it('dataset_retrieval: datasets of the account', () =>
      expectOnly(
        (g) => (byId(g, 'D').dataset_ids = [DATASET, OTHER_DATASET, 'not-a-uuid']),
        new RegExp(`Node "Retrieval" \\(D\\): the dataset ${OTHER_DATASET} does not exist`),
        /Node "Retrieval" \(D\): the dataset not-a-uuid does not exist/,
      ));

    it('dataset_retrieval: 1 to 5 datasets', () =>
      expectOnly((g) => (byId(g, 'D').dataset_ids = []), /dataset_ids must list 1 to 5 datasets/));

    it('dataset_retrieval: retrieval settings', () =>
      expectOnly(
        (g) => (byId(g, 'D').retrieval_config = { retrieval_strategy: 'fuzzy', k: 11, score: 1 }),
        /retrieval_strategy must be semantic, full_text or hybrid/,
        /k must be an integer from 1 to 10/,
        /score must be a number from 0 to 0.99/,
      ));

    it('dataset_retrieval: a single query input that is a reference', () =>
      expectOnly(
        (g) => (input0(g, 'D').value = { type: 'literal', content: 'x' }),
        /Node "Retrieval" \(D\): the node must have exactly one input, "query"/,
      ));

    it('http_request: an http(s) URL', async () => {
      for (const url of ['', 'ftp://example.com/x', 'example.com'])
        await expectOnly(
          (g) => (byId(g, 'H').url = url),
          /Node "HTTP" \(H\): url must be a valid http\(s\) URL/,
        );
    });

    it('http_request: a method', () =>
      expectOnly(
        (g) => (byId(g, 'H').method = 'fetch'),
        /Node "HTTP" \(H\): method must be one of/,
      ));

    it('http_request: each input says where it goes', () =>
      expectOnly(
        (g) => (input0(g, 'H').meta = {}),
        /Node "HTTP" \(H\): inputs\[0\]: meta.type must be params, headers or body/,
      ));

    it('template_transform: a template that parses', () =>
      expectOnly(
        (g) => (byId(g, 'X').template = '{% if a %}open'),
        /Node "Template" \(X\): the template does not parse/,
      ));

    it('if_else: conditions on its inputs with known operators and values', () =>
      expectOnly(
        (g) =>
          ((byId(g, 'I').branches as Array<Record<string, unknown>>)[0].conditions = [
            { variable: 'y', operator: 'equals', value: 1 },
            { variable: 'x', operator: 'like', value: 1 },
            { variable: 'x', operator: 'gt' },
          ]),
        /Node "If" \(I\): branches\[0\].conditions\[0\]: variable "y" is not an input of the node/,
        /branches\[0\].conditions\[1\]: operator must be one of/,
        /branches\[0\].conditions\[2\]: the operator gt needs a value/,
      ));

    it('if_else: branches with ids and a logical operator', () =>
      expectOnly(
        (g) => {
          const b = (byId(g, 'I').branches as Array<Record<string, unknown>>)[0];
          byId(g, 'I').branches = [b, { ...b, logical_operator: 'xor' }];
        },
        /branches\[1\]: the branch id "big" is used twice/,
        /branches\[1\]: logical_operator must be and or or/,
      ));

    it('if_else: at least one branch', () =>
      expectOnly((g) => {
        byId(g, 'I').branches = [];
        g.edges.find((e) => e.id === 'I-Q-big')!.source_handle = 'else';
        g.edges.find((e) => e.id === 'I-E-else')!.source_handle = 'else';
      }, /Node "If" \(I\): the node needs at least one branch/));

    it('question_classifier: named classes and a query', () =>
      expectOnly(
        (g) => {
          const q = byId(g, 'Q');
          q.classes = [
            { id: 'a', name: '' },
            { id: 'b', name: 'B' },
          ];
          (q.inputs as Array<Record<string, unknown>>)[0].name = 'question';
        },
        /Node "Classifier" \(Q\): the node needs an input named "query"/,
        /Node "Classifier" \(Q\): classes\[0\]: the class name is required/,
      ));

    it('question_classifier: a model', () =>
      expectOnly(
        (g) => (byId(g, 'Q').model_config = {}),
        /Node "Classifier" \(Q\): a model is required/,
      ));

    it('iteration: a concurrency limit', async () => {
      for (const c of [0, 11, 1.5, undefined])
        await expectOnly(
          (g) => (byId(g, 'IT').concurrency = c),
          /Node "Loop" \(IT\): concurrency must be an integer from 1 to 10/,
        );
    });

    it('iteration: a sub-graph', () =>
      expectOnly(
        (g) => delete byId(g, 'IT').graph,
        /Node "Loop" \(IT\): the iteration needs a sub-graph/,
      ));

    it('iteration: the sub-graph is validated in full', async () => {
      const g = validGraph();
      const sub = byId(g, 'IT').graph as Graph;
      sub.nodes[1].outputs = [ref('o', 's1', 'nope')];
      expect(await run(g)).toEqual([
        {
          key: 'nodes.IT.graph.nodes.e1',
          message:
            'In the sub-graph of Node "Loop" (IT): Node "Done" (e1): outputs[0] "o": Node "Item" (s1) has no input "nope"',
        },
      ]);
    });

    it('iteration: the sub-graph start receives item', () =>
      expectOnly((g) => {
        const sub = byId(g, 'IT').graph as Graph;
        sub.nodes[0].inputs = [{ name: 'x', type: 'string', description: '', required: true }];
        sub.nodes[1].outputs = [ref('o', 's1', 'x')];
      }, /Node "Loop" \(IT\): the start node of the sub-graph needs an input named "item"/));
  });

  it('collects every violation: the first is the message, all are in the fields', async () => {
    const g = validGraph();
    byId(g, 'L').prompt = '';
    byId(g, 'H').url = '';
    const found = await run(g);
    expect(found.map((v) => v.key)).toEqual(['nodes.L', 'nodes.H']);
    expect(violationFields(found)).toEqual({
      'nodes.L': ['Node "LLM" (L): the prompt is required'],
      'nodes.H': ['Node "HTTP" (H): url must be a valid http(s) URL'],
    });
  });
});
