/**
 * An app's configuration as stored (the draft, and each published version): the 14 keys the
 * console edits (CONSOLE-SHAPES §4.2). References (tools, workflows, datasets) are stored by id;
 * reads expand them (§4.3) and leave out what no longer exists.
 */

export type ParameterValue = string | number | boolean;

export interface AppModelConfig {
  provider: string;
  model: string;
  parameters: Record<string, ParameterValue>;
}

export const APP_TOOL_TYPES = ['builtin_tool', 'api_tool'] as const;
export type AppToolType = (typeof APP_TOOL_TYPES)[number];

/**
 * A bound tool as the console posts it. builtin: provider and tool names, `params` the tool's
 * declared settings; api: the provider's uuid and the operationId, `params` always `{}`.
 */
export interface StoredTool {
  type: AppToolType;
  provider_id: string;
  tool_id: string;
  params: Record<string, unknown>;
}

export const RETRIEVAL_STRATEGIES = ['semantic', 'full_text', 'hybrid'] as const;
export type AppRetrievalStrategy = (typeof RETRIEVAL_STRATEGIES)[number];

export interface AppRetrievalConfig {
  retrieval_strategy: AppRetrievalStrategy;
  k: number;
  score: number;
}

export interface EnableFlag {
  enable: boolean;
}

/** OpenAI's speech voices (the original accepted only `echo`, its default). */
export const TTS_VOICES = ['alloy', 'echo', 'fable', 'onyx', 'nova', 'shimmer'] as const;

export interface TextToSpeech {
  enable: boolean;
  voice: string;
  auto_play: boolean;
}

/** Keyword moderation: a hit in the input answers `preset_response`; in the output it becomes `**`. */
export interface ReviewConfig {
  enable: boolean;
  keywords: string[];
  inputs_config: { enable: boolean; preset_response: string };
  outputs_config: { enable: boolean };
}

export interface AppConfigFields {
  model_config: AppModelConfig;
  dialog_round: number;
  preset_prompt: string;
  tools: StoredTool[];
  /** Workflow ids (published workflows of the account). */
  workflows: string[];
  /** Dataset ids of the account. */
  datasets: string[];
  retrieval_config: AppRetrievalConfig;
  long_term_memory: EnableFlag;
  opening_statement: string;
  opening_questions: string[];
  speech_to_text: EnableFlag;
  text_to_speech: TextToSpeech;
  suggested_after_answer: EnableFlag;
  review_config: ReviewConfig;
}

export type ConfigKey = keyof AppConfigFields;

/** The keys a draft update may carry, in the order errors are reported. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  'model_config',
  'dialog_round',
  'preset_prompt',
  'tools',
  'workflows',
  'datasets',
  'retrieval_config',
  'long_term_memory',
  'opening_statement',
  'opening_questions',
  'speech_to_text',
  'text_to_speech',
  'suggested_after_answer',
  'review_config',
];

export const CONFIG_LIMITS = {
  maxDialogRound: 100,
  maxPresetPrompt: 2000,
  maxOpeningStatement: 2000,
  maxOpeningQuestions: 3,
  maxOpeningQuestion: 1000,
  maxTools: 5,
  maxWorkflows: 5,
  maxDatasets: 5,
  maxK: 10,
  maxKeywords: 100,
  maxKeyword: 100,
  maxPresetResponse: 2000,
} as const;

/** The model of a new app (it exists in the catalogue; parameters as the original's defaults). */
export const DEFAULT_MODEL_CONFIG: AppModelConfig = {
  provider: 'openai',
  model: 'gpt-4o-mini',
  parameters: {
    temperature: 0.5,
    top_p: 0.85,
    frequency_penalty: 0.2,
    presence_penalty: 0.2,
    max_tokens: 8192,
  },
};

/** A new app's draft (the original's DEFAULT_APP_CONFIG, with speech settings off). */
export function defaultAppConfig(): AppConfigFields {
  return structuredClone({
    model_config: DEFAULT_MODEL_CONFIG,
    dialog_round: 3,
    preset_prompt: '',
    tools: [],
    workflows: [],
    datasets: [],
    retrieval_config: { retrieval_strategy: 'semantic', k: 10, score: 0.5 },
    long_term_memory: { enable: false },
    opening_statement: '',
    opening_questions: [],
    speech_to_text: { enable: false },
    text_to_speech: { enable: false, voice: 'echo', auto_play: false },
    suggested_after_answer: { enable: true },
    review_config: {
      enable: false,
      keywords: [],
      inputs_config: { enable: false, preset_response: '' },
      outputs_config: { enable: false },
    },
  } satisfies AppConfigFields);
}

/** The 14 config fields of a row (a draft or a version), copied. */
export function pickConfig(row: AppConfigFields): AppConfigFields {
  const out = {} as Record<ConfigKey, unknown>;
  for (const key of CONFIG_KEYS) out[key] = structuredClone(row[key]);
  return out as unknown as AppConfigFields;
}
