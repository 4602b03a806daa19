import type {
  ClassifierClass,
  LlmNode,
  ModelConfig,
  QuestionClassifierNode,
} from 'src/modules/workflow/graph/graph.types';
import { messagesPackage } from 'src/modules/model/runtime/provider-packages';
import type {
  ModelRef,
  RuntimeChatModel,
  RuntimeContext,
} from 'src/modules/model/runtime/model-runtime.service';
import { modelErrorMessage } from 'src/modules/model/runtime/model-error';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';
import { templateRenderer } from '../template-renderer';
import { toText } from '../variables';

/** What the LLM nodes need of ModelRuntime (its `chat`), so tests can pass a double. */
export interface ChatModelSource {
  chat(ref: ModelRef, ctx: RuntimeContext): Promise<RuntimeChatModel>;
}

/** The usage rows of workflow model calls carry this source. */
export const WORKFLOW_USAGE_SOURCE = 'workflow';

/**
 * Renders the prompt with the node's inputs: `{{var}}` as the console writes it, which is Jinja
 * (the same engine as template_transform), so loops and filters work too.
 */
export function renderPrompt(
  prompt: string,
  inputs: Record<string, unknown>,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<string> {
  // Objects and arrays read as JSON in the prompt, not as "[object Object]".
  const vars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs))
    vars[k] = v !== null && typeof v === 'object' ? toText(v) : v;
  return templateRenderer.render(prompt, vars, opts);
}

/** The text of a LangChain message content (a string or content blocks). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((c) =>
        typeof c === 'string' ? c : c && typeof c === 'object' && 'text' in c ? String(c.text) : '',
      )
      .join('');
  return '';
}

/** `model_config` wins over a stale `language_model_config` (CONSOLE-SHAPES §3.3). */
function modelOf(node: {
  model_config?: ModelConfig;
  language_model_config?: ModelConfig;
}): ModelConfig {
  const config = node.model_config ?? node.language_model_config;
  if (!config?.provider || !config.model) throw new Error('the node has no model');
  return config;
}

async function invoke(
  models: ChatModelSource,
  config: ModelConfig,
  messages: unknown[],
  ctx: NodeExecutionContext,
): Promise<{ text: string; tokens: number }> {
  // Lenient: a stored config whose parameters the catalog has since changed still runs.
  const { model } = await models.chat(
    { provider: config.provider, model: config.model, parameters: config.parameters },
    {
      accountId: ctx.accountId,
      source: WORKFLOW_USAGE_SOURCE,
      timeoutMs: ctx.timeoutMs,
      parameterMode: 'lenient',
    },
  );
  try {
    const res = await model.invoke(messages as never, { signal: ctx.signal });
    // The provider's own count (LangChain's usage_metadata), never an estimate.
    const usage = (res as { usage_metadata?: { total_tokens?: number } }).usage_metadata;
    return { text: contentText(res.content), tokens: usage?.total_tokens ?? 0 };
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new Error(`the model call failed: ${modelErrorMessage(err)}`);
  }
}

/** Renders the prompt, asks the node's model, and returns the answer as `output`. */
export class LlmExecutor implements NodeExecutor<LlmNode> {
  constructor(private readonly models: ChatModelSource) {}

  async run(
    node: LlmNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    const config = modelOf(node);
    const prompt = await renderPrompt(node.prompt ?? '', inputs, {
      signal: ctx.signal,
      timeoutMs: ctx.timeoutMs,
    });
    if (!prompt.trim()) throw new Error('the prompt is empty');
    const { HumanMessage } = messagesPackage();
    const answer = await invoke(this.models, config, [new HumanMessage(prompt)], ctx);
    return { outputs: { output: answer.text }, tokens: answer.tokens };
  }
}

const CLASSIFIER_SYSTEM = `You classify the user's input into exactly one of the given categories.
Answer with a JSON object {"class_id": "<the id of the category>"} and nothing else.`;

/**
 * The class the model named: its JSON `class_id` (or `id`/`class`), else an answer that is an id
 * or a name, else the one id or name the answer mentions. Null when none or several match.
 */
export function parseClass(answer: string, classes: ClassifierClass[]): ClassifierClass | null {
  const norm = (s: string) =>
    s
      .trim()
      .toLowerCase()
      .replace(/^["'`]+|["'`.]+$/g, '');
  const byKey = (v: unknown): ClassifierClass | null => {
    if (typeof v !== 'string' && typeof v !== 'number') return null;
    const key = norm(String(v));
    return (
      classes.find((c) => norm(c.id) === key) ?? classes.find((c) => norm(c.name) === key) ?? null
    );
  };
  // Models wrap JSON in code fences or prose: read the first {...} block.
  const json = answer.match(/\{[\s\S]*?\}/);
  if (json) {
    try {
      const obj = JSON.parse(json[0]) as Record<string, unknown>;
      const found =
        byKey(obj.class_id) ?? byKey(obj.id) ?? byKey(obj.class) ?? byKey(obj.class_name);
      if (found) return found;
    } catch {
      // not JSON after all: fall through to the text checks
    }
  }
  const whole = byKey(answer);
  if (whole) return whole;
  const text = answer.toLowerCase();
  const mentioned = classes.filter(
    (c) => text.includes(c.id.toLowerCase()) || text.includes(c.name.trim().toLowerCase()),
  );
  return mentioned.length === 1 ? mentioned[0] : null;
}

/**
 * Asks the model which class the `query` input belongs to and takes that class's handle;
 * `class_name` is the class's name. An answer naming no class (or several) falls back to the
 * first class, as Dify's classifier does: a run goes on rather than failing on a chatty model.
 */
export class QuestionClassifierExecutor implements NodeExecutor<QuestionClassifierNode> {
  constructor(private readonly models: ChatModelSource) {}

  async run(
    node: QuestionClassifierNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    const classes = node.classes ?? [];
    if (!classes.length) throw new Error('the node has no classes');
    const config = modelOf(node);
    const list = classes
      .map((c) => JSON.stringify({ class_id: c.id, class_name: c.name }))
      .join('\n');
    const instruction = node.instruction?.trim()
      ? `\nInstructions: ${node.instruction.trim()}`
      : '';
    const { HumanMessage, SystemMessage } = messagesPackage();
    const answer = await invoke(
      this.models,
      config,
      [
        new SystemMessage(`${CLASSIFIER_SYSTEM}\nCategories:\n${list}${instruction}`),
        new HumanMessage(toText(inputs.query)),
      ],
      ctx,
    );
    const picked = parseClass(answer.text, classes) ?? classes[0];
    return { outputs: { class_name: picked.name }, handle: picked.id, tokens: answer.tokens };
  }
}
