import { lazyRequire } from '@app/common';
import type { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { BaseMessage } from '@langchain/core/messages';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { RuntimeChatModel } from 'src/modules/model/runtime/model-runtime.service';
import { callbacksBasePackage, messagesPackage } from 'src/modules/model/runtime/provider-packages';
import type { UsageRecord } from 'src/modules/model/runtime/usage.service';
import { withoutPatterns } from 'src/modules/tool/runtime/tool-args.validator';
import { MAX_ITERATIONS_ANSWER, reactInstructions } from './agent-prompts';
import type { AgentRunInput, AgentSink, AgentToolCall } from './agent.types';
import { parseReactOutput, ReactStreamSplitter } from './react-output';

// LangChain's agent (LangGraph underneath) and tools load with the first agent turn, not at boot.
const langchain = lazyRequire<typeof import('langchain')>('langchain');
const coreTools = lazyRequire<typeof import('@langchain/core/tools')>('@langchain/core/tools');

/** Plain text of a message content (a string, or text parts). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((c) =>
        typeof c === 'string' ? c : c?.type === 'text' ? String((c as { text?: string }).text) : '',
      )
      .join('');
  return '';
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

/** The model calls of one run as steps: answer text under one id per call, usage per call. */
class StepTracker {
  private seenUsage: UsageRecord | null;
  current: { id: string; started: number; wrote: boolean } | null = null;

  constructor(
    private readonly chat: RuntimeChatModel,
    private readonly sink: AgentSink,
  ) {
    this.seenUsage = chat.usage.last;
  }

  start(): { id: string; started: number; wrote: boolean } {
    this.current = { id: randomUUID(), started: performance.now(), wrote: false };
    return this.current;
  }

  write(delta: string): void {
    const step = this.current;
    if (!step || !delta) return;
    step.wrote = true;
    this.sink.messageDelta(step.id, delta, seconds(step.started));
  }

  /** The provider's usage of the call that just returned (the runtime's recorder holds it). */
  reportUsage(): void {
    const last = this.chat.usage.last;
    if (last && last !== this.seenUsage) {
      this.seenUsage = last;
      this.sink.usage(last);
    }
  }

  endMessage(): void {
    const step = this.current;
    if (step?.wrote) this.sink.messageEnd(step.id, seconds(step.started));
  }

  /** A fixed answer (the iteration limit) as its own message step. */
  say(text: string): void {
    this.start();
    this.write(text);
    this.endMessage();
  }
}

type StreamingHandlerClass = new (onToken: (token: string) => void) => BaseCallbackHandler;
let streamingHandlerClass: StreamingHandlerClass | undefined;

/**
 * Receives the tokens of every model call of an agent run. Preferring streaming makes LangChain
 * stream the call (with usage from the provider's stream) instead of a blocking request, and
 * awaiting it keeps tokens, thoughts and actions in the order they happened.
 */
function streamingHandler(onToken: (token: string) => void): BaseCallbackHandler {
  streamingHandlerClass ??= class extends callbacksBasePackage().BaseCallbackHandler {
    name = 'llmops_agent_tokens';
    awaitHandlers = true;
    lc_prefer_streaming = true;
    constructor(private readonly onTokenFn: (token: string) => void) {
      super();
    }
    handleLLMNewToken(token: string): void {
      if (token) this.onTokenFn(token);
    }
  };
  return new streamingHandlerClass(onToken);
}

/**
 * Runs one agent answer and reports it step by step:
 * - no tools: one streamed answer;
 * - a model with function calling (catalog feature `tool_call`): LangChain's `createAgent`
 *   (a LangGraph loop of model and tool nodes) with a middleware that reports each model step
 *   (tool calls as a thought) and each tool call (with its result and time), before the next
 *   node runs;
 * - any other model: the ReAct fallback, a prompted Thought/Action/Observation loop parsed
 *   strictly (react-output.ts).
 * Both loops stop after `maxIterations` model calls with a fixed answer. Tokens and prices come
 * from the provider's usage through the runtime's recorder; no tokenizer is fetched.
 */
@Injectable()
export class AgentRunner {
  async run(input: AgentRunInput, sink: AgentSink): Promise<void> {
    if (!input.tools.length) return this.plain(input, sink);
    if (input.chat.catalog.features.includes('tool_call')) return this.functionCalling(input, sink);
    return this.react(input, sink);
  }

  private messages(input: AgentRunInput, systemPrompt: string): BaseMessage[] {
    const { SystemMessage, HumanMessage, AIMessage } = messagesPackage();
    const images = input.chat.catalog.features.includes('image_input')
      ? input.imageUrls.filter((u) => /^(?:https?:\/\/|data:image\/)/i.test(u))
      : [];
    return [
      new SystemMessage(systemPrompt),
      ...input.history.flatMap((r) => [new HumanMessage(r.query), new AIMessage(r.answer)]),
      new HumanMessage(
        images.length
          ? {
              content: [
                { type: 'text', text: input.query },
                ...images.map((url) => ({ type: 'image_url', image_url: { url } })),
              ],
            }
          : input.query,
      ),
    ];
  }

  private async plain(input: AgentRunInput, sink: AgentSink): Promise<void> {
    const steps = new StepTracker(input.chat, sink);
    steps.start();
    const stream = await input.chat.model.stream(this.messages(input, input.systemPrompt), {
      signal: input.signal,
    });
    for await (const chunk of stream) steps.write(contentText(chunk.content));
    steps.reportUsage();
    steps.endMessage();
  }

  private async functionCalling(input: AgentRunInput, sink: AgentSink): Promise<void> {
    const { createAgent, createMiddleware } = langchain();
    const { AIMessage, ToolMessage } = messagesPackage();
    const { DynamicStructuredTool } = coreTools();
    const byName = new Map(input.tools.map((t) => [t.name, t]));
    const tools = input.tools.map(
      (t) =>
        new DynamicStructuredTool({
          name: t.name,
          description: t.description,
          // The tool's own call checks the whole schema (patterns on RE2); LangChain's would not.
          schema: withoutPatterns(t.schema),
          func: (args: Record<string, unknown>) => t.call(args, input.signal),
        }),
    );
    const steps = new StepTracker(input.chat, sink);
    let calls = 0;
    const reporting = createMiddleware({
      name: 'llmops_agent_events',
      wrapModelCall: async (request, handler) => {
        if (++calls > input.maxIterations) {
          steps.say(MAX_ITERATIONS_ANSWER);
          return new AIMessage(MAX_ITERATIONS_ANSWER);
        }
        const step = steps.start();
        const message = await handler(request);
        steps.reportUsage();
        steps.endMessage();
        const toolCalls = message.tool_calls ?? [];
        if (toolCalls.length)
          sink.thought(
            toolCalls.map((c) => ({
              id: c.id ?? randomUUID(),
              name: c.name,
              args: c.args ?? {},
              type: 'tool_call',
            })),
            seconds(step.started),
          );
        return message;
      },
      wrapToolCall: async (request, handler) => {
        const started = performance.now();
        const call = request.toolCall;
        let result: Awaited<ReturnType<typeof handler>>;
        try {
          result = await handler(request);
        } catch (err) {
          if (input.signal.aborted) throw err;
          // LangChain refused the arguments before our tool ran: the model reads why.
          result = new ToolMessage({
            tool_call_id: call.id ?? '',
            name: call.name,
            content: `Error: ${err instanceof Error ? err.message : String(err)}`,
          });
        }
        const observation = ToolMessage.isInstance(result) ? contentText(result.content) : '';
        sink.action(
          byName.get(call.name)?.event ?? 'agent_action',
          call.name,
          call.args ?? {},
          observation,
          seconds(started),
        );
        return result;
      },
    });
    const agent = createAgent({
      model: input.chat.model,
      tools,
      systemPrompt: input.systemPrompt,
      middleware: [reporting],
    });
    const [, ...rest] = this.messages(input, input.systemPrompt);
    await agent.invoke(
      { messages: rest },
      {
        signal: input.signal,
        callbacks: [streamingHandler((token) => steps.write(token))],
        // Each model call and each tool round is a graph step or two: the iteration limit ends first.
        recursionLimit: input.maxIterations * 4 + 10,
      },
    );
  }

  private async react(input: AgentRunInput, sink: AgentSink): Promise<void> {
    const { AIMessage, HumanMessage } = messagesPackage();
    const byName = new Map(input.tools.map((t) => [t.name, t]));
    const system = input.systemPrompt + reactInstructions(input.tools);
    const messages = this.messages(input, system);
    const steps = new StepTracker(input.chat, sink);
    for (let i = 0; ; i++) {
      if (i >= input.maxIterations) return steps.say(MAX_ITERATIONS_ANSWER);
      const step = steps.start();
      const splitter = new ReactStreamSplitter();
      const stream = await input.chat.model.stream(messages, {
        signal: input.signal,
        stop: ['\nObservation:'],
      });
      for await (const chunk of stream) steps.write(splitter.push(contentText(chunk.content)));
      steps.reportUsage();
      if (splitter.streamedAnswer) return steps.endMessage();
      const parsed = parseReactOutput(splitter.text, [...byName.keys()]);
      if (parsed.kind === 'final') {
        steps.write(parsed.answer);
        return steps.endMessage();
      }
      messages.push(new AIMessage(splitter.text));
      if (parsed.kind === 'invalid') {
        messages.push(
          new HumanMessage(
            `Observation: Error: ${parsed.reason}. Follow the format: Thought, Action, Action Input (one JSON object), or Final Answer.`,
          ),
        );
        continue;
      }
      const call: AgentToolCall = {
        id: randomUUID(),
        name: parsed.tool,
        args: parsed.input,
        type: 'tool_call',
      };
      sink.thought([call], seconds(step.started));
      const tool = byName.get(parsed.tool)!;
      const started = performance.now();
      const observation = await tool.call(parsed.input, input.signal);
      input.signal.throwIfAborted();
      sink.action(tool.event, tool.name, parsed.input, observation, seconds(started));
      messages.push(new HumanMessage(`Observation: ${observation}`));
    }
  }
}
