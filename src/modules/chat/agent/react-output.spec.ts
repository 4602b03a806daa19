import { parseReactOutput, ReactStreamSplitter } from './react-output';

const TOOLS = ['current_time', 'dataset_retrieval'];

describe('parseReactOutput', () => {
  it('reads an action with its thought and JSON input', () => {
    expect(
      parseReactOutput(
        'Thought: I need the time.\nAction: current_time\nAction Input: {"timezone": "UTC"}',
        TOOLS,
      ),
    ).toEqual({
      kind: 'action',
      thought: 'I need the time.',
      tool: 'current_time',
      input: { timezone: 'UTC' },
    });
  });

  it('accepts a fenced input and drops a hallucinated observation', () => {
    const step = parseReactOutput(
      'Action: `dataset_retrieval`\nAction Input:\n```json\n{"query": "refunds"}\n```\nObservation: made up',
      TOOLS,
    );
    expect(step).toEqual({
      kind: 'action',
      thought: '',
      tool: 'dataset_retrieval',
      input: { query: 'refunds' },
    });
  });

  it('reads a final answer, and plain text as the answer', () => {
    expect(parseReactOutput('Thought: done\nFinal Answer:  It is noon.\n', TOOLS)).toEqual({
      kind: 'final',
      answer: 'It is noon.',
    });
    expect(parseReactOutput('Paris is the capital.', TOOLS)).toEqual({
      kind: 'final',
      answer: 'Paris is the capital.',
    });
    expect(parseReactOutput('Thought: Paris.', TOOLS)).toEqual({ kind: 'final', answer: 'Paris.' });
  });

  it.each([
    [
      'Action: weather\nAction Input: {}',
      /not a tool; the tools are: current_time, dataset_retrieval/,
    ],
    ['Action: current_time', /Action Input is missing/],
    ['Action: current_time\nAction Input: UTC', /not valid JSON/],
    ['Action: current_time\nAction Input: ["UTC"]', /must be a JSON object/],
    ['Action: current_time\nAction Input: ', /is empty/],
    ['Action:\nAction Input: {}', /names no tool/],
    ['Action: current_time\nAction Input: {}\nFinal Answer: noon', /not both/],
  ])('refuses a malformed action: %j', (text, reason) => {
    const step = parseReactOutput(text, TOOLS);
    expect(step.kind).toBe('invalid');
    expect(step.kind === 'invalid' && step.reason).toMatch(reason);
  });
});

describe('ReactStreamSplitter', () => {
  const run = (chunks: string[]) => {
    const s = new ReactStreamSplitter();
    const shown = chunks.map((c) => s.push(c));
    return { shown, text: s.text, streamed: s.streamedAnswer };
  };

  it('streams a direct answer as it comes', () => {
    const r = run(['  Pa', 'ris is', ' nice.']);
    expect(r.shown).toEqual(['Pa', 'ris is', ' nice.']);
    expect(r.streamed).toBe(true);
  });

  it('holds reasoning and actions back', () => {
    const r = run(['Tho', 'ught: I need', ' a tool\nAction: current_time\nAction Input: {}']);
    expect(r.shown.join('')).toBe('');
    expect(r.streamed).toBe(false);
    expect(r.text).toContain('Action Input: {}');
  });

  it('streams what follows Final Answer, split anywhere', () => {
    const r = run(['Thought: I know.\nFinal An', 'swer:', ' ', 'It is', ' noon.']);
    expect(r.shown.join('')).toBe('It is noon.');
    expect(r.shown[1]).toBe('');
    expect(r.streamed).toBe(true);
  });

  it('waits while the start could still be a marker', () => {
    const s = new ReactStreamSplitter();
    expect(s.push('Fin')).toBe('');
    expect(s.push('land is cold')).toBe('Finland is cold');
  });
});
