/** Prompts of the agent runner (the original's, in English; the model answers in the user's language). */

/** The name of the knowledge-base tool (the original's; its calls become `dataset_retrieval` events). */
export const DATASET_RETRIEVAL_TOOL = 'dataset_retrieval';

/** The answer when the tool loop reaches AGENT_MAX_ITERATIONS. */
export const MAX_ITERATIONS_ANSWER =
  'I could not finish this within the allowed number of steps. Please try again, or ask a narrower question.';

export function agentSystemPrompt(presetPrompt: string, longTermMemory: string): string {
  return `You are a highly customized agent application that gives users accurate, professional answers and content. Follow these rules:

1. Preset task: follow the preset prompt (PRESET-PROMPT) below and produce what it asks for.
2. Tools: when the task needs it, call the tools bound to you (knowledge-base search, lookups, calculations, workflows...) with correct arguments.
3. History and long-term memory: use the conversation history and the summarized long-term memory to keep the conversation consistent and personal.
4. Knowledge base: when a question goes beyond what you know or needs facts, search with the \`${DATASET_RETRIEVAL_TOOL}\` tool if you have it.
5. Be precise and concise; answer in the language of the user's question.

<preset-prompt>
${presetPrompt}
</preset-prompt>

<long-term-memory>
${longTermMemory}
</long-term-memory>`;
}

export interface ToolDescription {
  name: string;
  description: string;
  schema: Record<string, unknown>;
}

/** Added to the system prompt of a model without function calling (the ReAct fallback). */
export function reactInstructions(tools: ToolDescription[]): string {
  const list = tools
    .map(
      (t) =>
        `- ${t.name}: ${t.description}\n  arguments (JSON Schema): ${JSON.stringify(t.schema)}`,
    )
    .join('\n');
  return `

You can use these tools:
${list}

To use a tool, answer exactly in this format and then stop:
Thought: <why you need the tool>
Action: <one tool name from the list>
Action Input: <the arguments as one JSON object>

You will then receive "Observation: <the tool's result>". Repeat as needed. When you can answer, write:
Thought: I now know the final answer
Final Answer: <your answer to the user>`;
}

/** The summarizer of long-term memory (the original's SUMMARIZER_TEMPLATE, in English). */
export const SUMMARY_SYSTEM_PROMPT = `Progressively summarize the lines of conversation provided, adding onto the previous summary, and return a new summary.
Keep the facts, preferences and decisions worth remembering; write in the language of the conversation; answer with the summary alone.

EXAMPLE
Current summary:
The human asks what the AI thinks of artificial intelligence. The AI thinks artificial intelligence is a force for good.

New lines of conversation:
Human: Why do you think artificial intelligence is a force for good?
AI: Because artificial intelligence will help humans reach their full potential.

New summary:
The human asks what the AI thinks of artificial intelligence. The AI thinks artificial intelligence is a force for good because it will help humans reach their full potential.
END OF EXAMPLE`;

export function summaryRequest(previous: string, query: string, answer: string): string {
  return `Current summary:
${previous}

New lines of conversation:
Human: ${query}
AI: ${answer}

New summary:`;
}
