/**
 * The ReAct fallback's text protocol, for models without function calling: the model writes
 *
 *   Thought: <reasoning>
 *   Action: <tool name>
 *   Action Input: <a JSON object>
 *
 * and stops (the runner passes `Observation:` as a stop sequence); the runner calls the tool and
 * sends `Observation: <result>` back. When it knows the answer it writes `Final Answer: <answer>`.
 * Actions are parsed strictly: the name must be one of the tools and the input a JSON object,
 * else the model is told what was wrong (nothing is guessed). Text with no Action at all is
 * taken as the answer: small models often answer directly.
 */

export type ReactStep =
  | { kind: 'action'; thought: string; tool: string; input: Record<string, unknown> }
  | { kind: 'final'; answer: string }
  | { kind: 'invalid'; reason: string };

const FINAL = /Final\s+Answer\s*:\s*/i;
const ACTION = /(?:^|\n)\s*Action\s*:[ \t]*(.*)/i;
const ACTION_INPUT = /(?:^|\n)\s*Action\s+Input\s*:\s*([\s\S]*)$/i;
const THOUGHT = /^\s*Thought\s*:\s*/i;

/** `{...}` from the Action Input, without code fences or a trailing Observation. */
function jsonObject(raw: string): Record<string, unknown> | string {
  const text = raw
    .replace(/\n\s*Observation\s*:[\s\S]*$/i, '')
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/\s*```$/, '')
    .trim();
  if (!text) return 'Action Input is empty; it must be a JSON object (use {} for no arguments)';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'Action Input is not valid JSON; it must be a JSON object such as {"query": "..."}';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return 'Action Input must be a JSON object of named arguments';
  return parsed as Record<string, unknown>;
}

/** One model output, read as an action, a final answer or a format error. */
export function parseReactOutput(text: string, tools: readonly string[]): ReactStep {
  const final = FINAL.exec(text);
  const action = ACTION.exec(text);
  if (action && final && action.index < final.index)
    return {
      kind: 'invalid',
      reason: 'Write either an Action (and wait for its Observation) or a Final Answer, not both',
    };
  if (final) return { kind: 'final', answer: text.slice(final.index + final[0].length).trim() };
  if (!action) return { kind: 'final', answer: text.replace(THOUGHT, '').trim() };
  const tool = action[1].trim().replace(/^[`"'[]+|[`"'\]]+$/g, '');
  if (!tool) return { kind: 'invalid', reason: 'Action names no tool' };
  if (!tools.includes(tool))
    return {
      kind: 'invalid',
      reason: `"${tool.slice(0, 64)}" is not a tool; the tools are: ${tools.join(', ')}`,
    };
  const inputMatch = ACTION_INPUT.exec(text.slice(action.index + action[0].length));
  if (!inputMatch) return { kind: 'invalid', reason: 'Action Input is missing after Action' };
  const input = jsonObject(inputMatch[1]);
  if (typeof input === 'string') return { kind: 'invalid', reason: input };
  const thought = text.slice(0, action.index).replace(THOUGHT, '').trim();
  return { kind: 'action', thought, tool, input };
}

const MARKERS = ['thought:', 'action:', 'final answer:'];

/**
 * Splits a streamed ReAct output into what the user may see as it arrives: text written after
 * `Final Answer:`, or the whole output when it does not start like the protocol (a direct
 * answer). Reasoning and actions are held back; `text` keeps everything for parseReactOutput.
 */
export class ReactStreamSplitter {
  private mode: 'undecided' | 'protocol' | 'answer' = 'undecided';
  private buffer = '';
  /** Characters of `buffer` already released as answer text. */
  private released = 0;
  private answerStart = -1;

  get text(): string {
    return this.buffer;
  }

  /** Whether any answer text was released while streaming. */
  get streamedAnswer(): boolean {
    return this.mode === 'answer';
  }

  /** Answer text to show now that `delta` arrived ('' while it is held back). */
  push(delta: string): string {
    this.buffer += delta;
    if (this.mode === 'undecided') {
      const head = this.buffer.trimStart().toLowerCase().replace(/\s+/g, ' ');
      if (!head) return '';
      if (MARKERS.some((m) => head.startsWith(m))) this.mode = 'protocol';
      else if (MARKERS.some((m) => m.startsWith(head))) return '';
      else {
        this.mode = 'answer';
        this.answerStart = this.buffer.length - this.buffer.trimStart().length;
      }
    }
    if (this.mode === 'protocol') {
      const final = FINAL.exec(this.buffer);
      if (!final || ACTION.exec(this.buffer)) return '';
      this.mode = 'answer';
      this.answerStart = final.index + final[0].length;
    }
    return this.release();
  }

  private release(): string {
    const from = Math.max(this.answerStart, this.released);
    let out = this.buffer.slice(from);
    // Whitespace right after the marker is not part of the answer.
    if (from === this.answerStart) out = out.trimStart();
    if (!out) return '';
    this.released = this.buffer.length;
    return out;
  }
}
