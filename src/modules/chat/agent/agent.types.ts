import type { RuntimeChatModel } from 'src/modules/model/runtime/model-runtime.service';
import type { UsageRecord } from 'src/modules/model/runtime/usage.service';
import type { ToolInputSchema } from 'src/modules/tool/runtime/tool.types';
import type { Round } from './chat-memory';

/** The events of the agent streams (CONTRACT §Streams), in the original's names. */
export const AGENT_EVENTS = [
  'long_term_memory_recall',
  'agent_thought',
  'agent_message',
  'agent_action',
  'dataset_retrieval',
  'agent_end',
  'stop',
  'error',
  'timeout',
  'ping',
] as const;
export type AgentEvent = (typeof AGENT_EVENTS)[number];

/** A tool as the agent runner uses it, whatever its kind (builtin, API, MCP, workflow, knowledge). */
export interface AgentTool {
  /** The function name the model sees, unique within a run. */
  name: string;
  description: string;
  /** The arguments the model fills in (JSON Schema). */
  schema: ToolInputSchema;
  /** The event its calls produce: knowledge-base searches are `dataset_retrieval`. */
  event: 'agent_action' | 'dataset_retrieval';
  /** Runs the tool. Never throws: a failure comes back as `Error: <reason>` for the model to read. */
  call(args: Record<string, unknown>, signal: AbortSignal): Promise<string>;
}

/** A tool call the model made (the original's `tool_calls` items). */
export interface AgentToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
  type: 'tool_call';
}

/**
 * What the runner reports as it goes; the chat turn turns it into frames and stored steps.
 * Latencies are seconds since the step started.
 */
export interface AgentSink {
  /** Answer text of the model step `stepId` (one stable id per step). */
  messageDelta(stepId: string, delta: string, latency: number): void;
  /** The model step `stepId` finished writing answer text. */
  messageEnd(stepId: string, latency: number): void;
  /** A model step that decided to call tools. */
  thought(calls: AgentToolCall[], latency: number): void;
  /** A tool call and its result. */
  action(
    event: AgentTool['event'],
    tool: string,
    input: Record<string, unknown>,
    observation: string,
    latency: number,
  ): void;
  /** The provider's usage of one model call (tokens and price). */
  usage(record: UsageRecord): void;
}

export interface AgentRunInput {
  chat: RuntimeChatModel;
  systemPrompt: string;
  /** Earlier rounds, oldest first (already cut to dialog_round and the context window). */
  history: Round[];
  query: string;
  /** Images of the query (sent only to models with the `image_input` feature). */
  imageUrls: string[];
  tools: AgentTool[];
  /** Model calls one answer may take (the tool loop). */
  maxIterations: number;
  /** Stop, timeout: aborts the model call or tool under way. */
  signal: AbortSignal;
}
