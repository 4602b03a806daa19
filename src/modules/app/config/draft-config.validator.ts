import { isUuid, ValidateError } from '@app/common';
import {
  APP_TOOL_TYPES,
  CONFIG_KEYS,
  CONFIG_LIMITS as L,
  RETRIEVAL_STRATEGIES,
  TTS_VOICES,
  type AppConfigFields,
  type AppModelConfig,
  type AppRetrievalConfig,
  type ConfigKey,
  type EnableFlag,
  type ReviewConfig,
  type StoredTool,
  type TextToSpeech,
} from './app-config.types';

/**
 * A checked draft update: only the keys given. `model_config.parameters` is still the raw object
 * (coerced against the catalog later) and tools, workflows and datasets are not yet looked up.
 */
export type DraftUpdate = Partial<AppConfigFields>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasExactly = (o: Obj, keys: readonly string[]) => {
  const own = Object.keys(o);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(o, k));
};
const list = (keys: readonly string[]) =>
  keys.length > 1 ? `${keys.slice(0, -1).join(', ')} and ${keys[keys.length - 1]}` : keys[0];
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const MAX_REF = 200;

/** Thrown inside a field's check; the field's key and message end up in the validate_error. */
class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
const fail = (field: string, message: string): never => {
  throw new FieldError(field, message);
};

function exactObject(field: string, v: unknown, keys: readonly string[]): Obj {
  if (!isObj(v) || !hasExactly(v, keys))
    fail(field, `${field} must be an object with exactly ${list(keys)}`);
  return v as Obj;
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(field, `${field} must be true or false`);
  return v as boolean;
}

function text(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string') fail(field, `${field} must be a string`);
  const s = v as string;
  if (s.length > max) fail(field, `${field} must be at most ${max} characters`);
  return s;
}

function nonEmpty(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || !v.trim()) fail(field, `${field} must be a non-empty string`);
  return text(field, v, max);
}

function enableFlag(field: string, v: unknown): EnableFlag {
  const o = exactObject(field, v, ['enable']);
  return { enable: bool(`${field}.enable`, o.enable) };
}

function modelConfig(v: unknown): AppModelConfig {
  const o = exactObject('model_config', v, ['provider', 'model', 'parameters']);
  return {
    provider: nonEmpty('model_config.provider', o.provider, MAX_REF),
    model: nonEmpty('model_config.model', o.model, MAX_REF),
    // Parameters are coerced leniently against the model's (as the original): anything that is
    // not an object means "the defaults".
    parameters: (isObj(o.parameters) ? o.parameters : {}) as AppModelConfig['parameters'],
  };
}

function tools(v: unknown): StoredTool[] {
  if (!Array.isArray(v)) fail('tools', 'tools must be an array');
  const items = v as unknown[];
  if (items.length > L.maxTools) fail('tools', `tools can have at most ${L.maxTools} items`);
  const seen = new Set<string>();
  return items.map((item, i) => {
    const f = `tools[${i}]`;
    const o = exactObject(f, item, ['type', 'provider_id', 'tool_id', 'params']);
    if (!APP_TOOL_TYPES.includes(o.type as StoredTool['type']))
      fail(`${f}.type`, `${f}.type must be ${list(APP_TOOL_TYPES).replace(' and ', ' or ')}`);
    const tool: StoredTool = {
      type: o.type as StoredTool['type'],
      provider_id: nonEmpty(`${f}.provider_id`, o.provider_id, MAX_REF),
      tool_id: nonEmpty(`${f}.tool_id`, o.tool_id, MAX_REF),
      params: isObj(o.params) ? o.params : fail(`${f}.params`, `${f}.params must be an object`),
    };
    const key = `${tool.type}:${tool.provider_id}:${tool.tool_id}`;
    if (seen.has(key))
      fail(f, `${f} binds ${tool.provider_id}/${tool.tool_id} a second time; bind a tool once`);
    seen.add(key);
    return tool;
  });
}

function ids(field: 'workflows' | 'datasets', v: unknown, max: number): string[] {
  const what = field === 'workflows' ? 'workflow' : 'dataset';
  if (!Array.isArray(v)) fail(field, `${field} must be an array of ${what} ids`);
  const items = v as unknown[];
  if (items.length > max) fail(field, `${field} can have at most ${max} items`);
  items.forEach((id, i) => {
    if (typeof id !== 'string' || !isUuid(id))
      fail(`${field}[${i}]`, `${field}[${i}] must be a ${what} id (UUID)`);
  });
  const lower = (items as string[]).map((s) => s.toLowerCase());
  if (new Set(lower).size !== lower.length) fail(field, `${field} lists the same ${what} twice`);
  return lower;
}

function retrievalConfig(v: unknown): AppRetrievalConfig {
  const o = exactObject('retrieval_config', v, ['retrieval_strategy', 'k', 'score']);
  if (
    !RETRIEVAL_STRATEGIES.includes(o.retrieval_strategy as AppRetrievalConfig['retrieval_strategy'])
  )
    fail(
      'retrieval_config.retrieval_strategy',
      'retrieval_config.retrieval_strategy must be semantic, full_text or hybrid',
    );
  if (!isInt(o.k) || o.k < 1 || o.k > L.maxK)
    fail('retrieval_config.k', `retrieval_config.k must be an integer from 1 to ${L.maxK}`);
  // Any JSON number: the console's slider sends 0 and 1 as integers.
  if (!isNum(o.score) || o.score < 0 || o.score > 1)
    fail('retrieval_config.score', 'retrieval_config.score must be a number from 0 to 1');
  return {
    retrieval_strategy: o.retrieval_strategy as AppRetrievalConfig['retrieval_strategy'],
    k: o.k as number,
    score: o.score as number,
  };
}

function openingQuestions(v: unknown): string[] {
  if (!Array.isArray(v)) fail('opening_questions', 'opening_questions must be an array of strings');
  const items = v as unknown[];
  if (items.length > L.maxOpeningQuestions)
    fail('opening_questions', `opening_questions can have at most ${L.maxOpeningQuestions} items`);
  return items.map((q, i) => text(`opening_questions[${i}]`, q, L.maxOpeningQuestion));
}

function textToSpeech(v: unknown): TextToSpeech {
  const o = exactObject('text_to_speech', v, ['enable', 'voice', 'auto_play']);
  if (typeof o.voice !== 'string' || !(TTS_VOICES as readonly string[]).includes(o.voice))
    fail('text_to_speech.voice', `text_to_speech.voice must be one of ${TTS_VOICES.join(', ')}`);
  return {
    enable: bool('text_to_speech.enable', o.enable),
    voice: o.voice as string,
    auto_play: bool('text_to_speech.auto_play', o.auto_play),
  };
}

function reviewConfig(v: unknown): ReviewConfig {
  const f = 'review_config';
  const o = exactObject(f, v, ['enable', 'keywords', 'inputs_config', 'outputs_config']);
  const enable = bool(`${f}.enable`, o.enable);
  if (!Array.isArray(o.keywords))
    fail(`${f}.keywords`, `${f}.keywords must be an array of strings`);
  const raw = o.keywords as unknown[];
  if (raw.length > L.maxKeywords)
    fail(`${f}.keywords`, `${f}.keywords can have at most ${L.maxKeywords} items`);
  // A blank keyword would match every text: blanks are dropped, the rest trimmed, once each.
  const keywords = [
    ...new Set(raw.map((k, i) => text(`${f}.keywords[${i}]`, k, L.maxKeyword).trim())),
  ].filter(Boolean);
  const inputs = exactObject(`${f}.inputs_config`, o.inputs_config, ['enable', 'preset_response']);
  const inputsConfig = {
    enable: bool(`${f}.inputs_config.enable`, inputs.enable),
    preset_response: text(
      `${f}.inputs_config.preset_response`,
      inputs.preset_response,
      L.maxPresetResponse,
    ),
  };
  const outputs = exactObject(`${f}.outputs_config`, o.outputs_config, ['enable']);
  const outputsConfig = { enable: bool(`${f}.outputs_config.enable`, outputs.enable) };
  if (enable) {
    if (!keywords.length)
      fail(`${f}.keywords`, `${f}.keywords must not be empty when the review is enabled`);
    if (!inputsConfig.enable && !outputsConfig.enable)
      fail(f, 'Enable the review of inputs, of outputs, or both');
    if (inputsConfig.enable && !inputsConfig.preset_response.trim())
      fail(
        `${f}.inputs_config.preset_response`,
        `${f}.inputs_config.preset_response must not be empty when inputs are reviewed`,
      );
  }
  return { enable, keywords, inputs_config: inputsConfig, outputs_config: outputsConfig };
}

const CHECKS: { [K in ConfigKey]: (v: unknown) => AppConfigFields[K] } = {
  model_config: modelConfig,
  dialog_round: (v) => {
    if (!isInt(v) || v < 0 || v > L.maxDialogRound)
      fail('dialog_round', `dialog_round must be an integer from 0 to ${L.maxDialogRound}`);
    return v as number;
  },
  preset_prompt: (v) => text('preset_prompt', v, L.maxPresetPrompt),
  tools,
  workflows: (v) => ids('workflows', v, L.maxWorkflows),
  datasets: (v) => ids('datasets', v, L.maxDatasets),
  retrieval_config: retrievalConfig,
  long_term_memory: (v) => enableFlag('long_term_memory', v),
  opening_statement: (v) => text('opening_statement', v, L.maxOpeningStatement),
  opening_questions: openingQuestions,
  speech_to_text: (v) => enableFlag('speech_to_text', v),
  text_to_speech: textToSpeech,
  suggested_after_answer: (v) => enableFlag('suggested_after_answer', v),
  review_config: reviewConfig,
};

/**
 * Checks a partial draft update (CONSOLE-SHAPES §4.4): at least one key, only the 14 config
 * keys, each of the exact shape. One validate_error lists the first problem of every field.
 */
export function parseDraftUpdate(body: unknown): DraftUpdate {
  if (!isObj(body) || Object.keys(body).length === 0) {
    throw new ValidateError(
      { body: ['The draft config update must be an object with at least one field'] },
      'The draft config update must be an object with at least one field',
    );
  }
  const errors: Record<string, string[]> = {};
  for (const key of Object.keys(body)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key))
      errors[key] = [`${key} is not a field of the app config`];
  }
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    if (!Object.hasOwn(body, key)) continue;
    try {
      out[key] = CHECKS[key](body[key]);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      errors[e.field] = [e.message];
    }
  }
  if (Object.keys(errors).length) throw new ValidateError(errors);
  return out;
}
