import { randomUUID } from 'node:crypto';
import type { UsageRecord } from 'src/modules/model/runtime/usage.service';
import type { StoredThought } from '../conversation.service';
import type { AgentEvent, AgentSink, AgentTool, AgentToolCall } from './agent.types';
import { KeywordMasker } from './keyword-masker';

/** The `data` of every agent frame (CONSOLE-SHAPES §5), plus usage where noted. */
export interface AgentFrame {
  id: string;
  event: AgentEvent;
  thought: string;
  observation: string;
  tool: string;
  tool_input: Record<string, unknown>;
  answer: string;
  /** Seconds, always a number. */
  latency: number;
  conversation_id: string;
  message_id: string;
  task_id: string;
  /** agent_message and the closing frames: tokens of the turn so far. */
  total_token_count?: number;
  message_token_count?: number;
  answer_token_count?: number;
  total_price?: number;
  [extra: string]: unknown;
}

export type FrameWriter = (event: AgentEvent, data: AgentFrame) => void;

export interface TurnIds {
  conversation_id: string;
  message_id: string;
  task_id: string;
  /** Other fields of every frame (e.g. `end_user_id`). */
  [extra: string]: string;
}

type Step = StoredThought & { id: string };

/**
 * One turn as it happens: turns what the runner reports into frames (each with the full shape
 * and the turn's ids), and keeps what will be stored: the answer, the steps in order (answer
 * deltas merged per step id) and the summed usage. Output review masks answer text here, so
 * frames, the stored answer and the stored steps agree. After `close()` late reports from a run
 * that ignored its abort are dropped.
 */
export class TurnRecorder {
  answer = '';
  promptTokens = 0;
  completionTokens = 0;
  price = 0;
  private readonly steps = new Map<string, Step>();
  private readonly maskers = new Map<string, KeywordMasker>();
  /** Usage of the model call that just returned, for the step it produced. */
  private pendingUsage: UsageRecord | null = null;
  private closed = false;

  constructor(
    private readonly ids: TurnIds,
    private readonly write: FrameWriter,
    private readonly outputKeywords: string[] | null,
  ) {}

  get totalTokens(): number {
    return this.promptTokens + this.completionTokens;
  }

  /** A frame with every field the console reads. */
  frame(event: AgentEvent, fields: Partial<AgentFrame> = {}): AgentFrame {
    return {
      id: randomUUID(),
      event,
      thought: '',
      observation: '',
      tool: '',
      tool_input: {},
      answer: '',
      latency: 0,
      ...this.ids,
      ...fields,
    };
  }

  emit(event: AgentEvent, fields: Partial<AgentFrame> = {}): void {
    if (!this.closed) this.write(event, this.frame(event, fields));
  }

  /** Long-term memory was read: the summary in `observation` (stored as a step). */
  recall(summary: string): void {
    const id = randomUUID();
    this.steps.set(id, { id, event: 'long_term_memory_recall', observation: summary, latency: 0 });
    this.emit('long_term_memory_recall', { id, observation: summary });
  }

  /** A whole answer at once (the input review's preset response). */
  say(text: string): void {
    const id = randomUUID();
    this.appendMessage(id, text, 0);
  }

  readonly sink: AgentSink = {
    messageDelta: (stepId, delta, latency) => {
      if (this.closed) return;
      const masked = this.masker(stepId)?.push(delta) ?? delta;
      if (masked) this.appendMessage(stepId, masked, latency);
    },
    messageEnd: (stepId, latency) => {
      if (this.closed) return;
      const rest = this.masker(stepId)?.flush() ?? '';
      if (rest) this.appendMessage(stepId, rest, latency);
      const step = this.steps.get(stepId);
      if (!step) return;
      step.latency = latency;
      this.takeUsage(step);
      // The step's final latency and the turn's tokens so far (the console shows them).
      this.emit('agent_message', { id: stepId, latency, total_token_count: this.totalTokens });
    },
    thought: (calls: AgentToolCall[], latency) => {
      if (this.closed) return;
      const id = randomUUID();
      const step: Step = { id, event: 'agent_thought', thought: JSON.stringify(calls), latency };
      this.takeUsage(step);
      this.steps.set(id, step);
      this.emit('agent_thought', { id, thought: step.thought, latency });
    },
    action: (event: AgentTool['event'], tool, input, observation, latency) => {
      if (this.closed) return;
      const id = randomUUID();
      this.steps.set(id, { id, event, tool, tool_input: input, observation, latency });
      this.emit(event, { id, tool, tool_input: input, observation, latency });
    },
    usage: (record) => {
      if (this.closed) return;
      this.promptTokens += record.prompt_tokens;
      this.completionTokens += record.completion_tokens;
      this.price = Math.round((this.price + record.price) * 1e8) / 1e8;
      this.pendingUsage = record;
    },
  };

  /** Releases text the output review still held back (the run ended mid-step). */
  flush(): void {
    for (const [stepId, masker] of this.maskers) {
      const rest = masker.flush();
      if (rest) this.appendMessage(stepId, rest, this.steps.get(stepId)?.latency ?? 0);
    }
  }

  /** No more reports are taken; the steps to store, in the order they happened. */
  close(): StoredThought[] {
    this.flush();
    this.closed = true;
    return [...this.steps.values()].map(({ id: _id, ...step }) => step);
  }

  private appendMessage(stepId: string, text: string, latency: number): void {
    let step = this.steps.get(stepId);
    if (!step) {
      step = { id: stepId, event: 'agent_message', thought: '', latency };
      this.steps.set(stepId, step);
    }
    step.thought = (step.thought ?? '') + text;
    step.latency = latency;
    this.answer += text;
    this.emit('agent_message', {
      id: stepId,
      thought: text,
      answer: text,
      latency,
      total_token_count: this.totalTokens,
    });
  }

  private masker(stepId: string): KeywordMasker | null {
    if (!this.outputKeywords?.length) return null;
    let m = this.maskers.get(stepId);
    if (!m) {
      m = new KeywordMasker(this.outputKeywords);
      this.maskers.set(stepId, m);
    }
    return m;
  }

  private takeUsage(step: Step): void {
    if (!this.pendingUsage) return;
    step.total_token_count = this.pendingUsage.total_tokens;
    step.total_price = this.pendingUsage.price;
    this.pendingUsage = null;
  }
}
