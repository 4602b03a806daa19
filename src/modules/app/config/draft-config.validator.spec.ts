import { ValidateError } from '@app/common';
import { defaultAppConfig } from './app-config.types';
import { parseDraftUpdate } from './draft-config.validator';

const UUID_A = '0b7f2c4e-1111-4aaa-8bbb-000000000001';
const UUID_B = '0b7f2c4e-1111-4aaa-8bbb-000000000002';

/** The validate_error's field map, or a failure when the body passes. */
function errorsOf(body: unknown): Record<string, string[]> {
  try {
    parseDraftUpdate(body);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidateError);
    return (e as ValidateError).data as Record<string, string[]>;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

const review = (patch: Record<string, unknown> = {}) => ({
  enable: true,
  keywords: ['spam'],
  inputs_config: { enable: true, preset_response: 'Not here.' },
  outputs_config: { enable: false },
  ...patch,
});

describe('parseDraftUpdate', () => {
  it('accepts every key of a full config and returns only what was given', () => {
    const full = defaultAppConfig();
    expect(parseDraftUpdate(full)).toEqual(full);
    expect(parseDraftUpdate({ dialog_round: 0 })).toEqual({ dialog_round: 0 });
    expect(parseDraftUpdate({ preset_prompt: '' })).toEqual({ preset_prompt: '' });
  });

  it('refuses an empty body, a non-object and unknown keys, naming them', () => {
    expect(Object.keys(errorsOf({}))).toEqual(['body']);
    expect(Object.keys(errorsOf([]))).toEqual(['body']);
    expect(Object.keys(errorsOf(null))).toEqual(['body']);
    expect(errorsOf({ dialog_round: 3, name: 'x' })).toEqual({
      name: ['name is not a field of the app config'],
    });
  });

  it('reports the first problem of every field at once', () => {
    expect(errorsOf({ dialog_round: 101, preset_prompt: 5 })).toEqual({
      dialog_round: ['dialog_round must be an integer from 0 to 100'],
      preset_prompt: ['preset_prompt must be a string'],
    });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ dialog_round: -1 }, 'dialog_round', /integer from 0 to 100/],
    [{ dialog_round: 2.5 }, 'dialog_round', /integer/],
    [{ dialog_round: '3' }, 'dialog_round', /integer/],
    [{ preset_prompt: 'x'.repeat(2001) }, 'preset_prompt', /at most 2000 characters/],
    [{ opening_statement: 'x'.repeat(2001) }, 'opening_statement', /at most 2000/],
    [{ opening_questions: ['a', 'b', 'c', 'd'] }, 'opening_questions', /at most 3 items/],
    [{ opening_questions: [1] }, 'opening_questions[0]', /must be a string/],
    [{ opening_questions: 'a' }, 'opening_questions', /array of strings/],
    [
      { model_config: { provider: 'openai', model: 'x' } },
      'model_config',
      /exactly provider, model and parameters/,
    ],
    [
      { model_config: { provider: '', model: 'gpt-4o-mini', parameters: {} } },
      'model_config.provider',
      /non-empty string/,
    ],
    [
      { model_config: { provider: 'openai', model: 7, parameters: {} } },
      'model_config.model',
      /non-empty string/,
    ],
    [{ long_term_memory: { enable: 'yes' } }, 'long_term_memory.enable', /true or false/],
    [{ long_term_memory: { enable: true, x: 1 } }, 'long_term_memory', /exactly enable/],
    [{ suggested_after_answer: true }, 'suggested_after_answer', /exactly enable/],
    [{ speech_to_text: {} }, 'speech_to_text', /exactly enable/],
    [
      { text_to_speech: { enable: true, voice: 'robot', auto_play: false } },
      'text_to_speech.voice',
      /one of alloy, echo/,
    ],
    [
      { text_to_speech: { enable: true, voice: 'echo' } },
      'text_to_speech',
      /exactly enable, voice and auto_play/,
    ],
    [
      { retrieval_config: { retrieval_strategy: 'fuzzy', k: 4, score: 0.5 } },
      'retrieval_config.retrieval_strategy',
      /semantic, full_text or hybrid/,
    ],
    [
      { retrieval_config: { retrieval_strategy: 'semantic', k: 0, score: 0.5 } },
      'retrieval_config.k',
      /integer from 1 to 10/,
    ],
    [
      { retrieval_config: { retrieval_strategy: 'semantic', k: 11, score: 0.5 } },
      'retrieval_config.k',
      /from 1 to 10/,
    ],
    [
      { retrieval_config: { retrieval_strategy: 'semantic', k: 4, score: 1.5 } },
      'retrieval_config.score',
      /number from 0 to 1/,
    ],
    [
      { retrieval_config: { retrieval_strategy: 'semantic', k: 4 } },
      'retrieval_config',
      /exactly retrieval_strategy, k and score/,
    ],
  ])('refuses %j at %s', (body, field, message) => {
    const errors = errorsOf(body);
    expect(Object.keys(errors)).toEqual([field]);
    expect(errors[field][0]).toMatch(message);
  });

  it('accepts integer scores (the console slider sends 0 and 1)', () => {
    for (const score of [0, 1])
      expect(
        parseDraftUpdate({ retrieval_config: { retrieval_strategy: 'hybrid', k: 1, score } }),
      ).toEqual({ retrieval_config: { retrieval_strategy: 'hybrid', k: 1, score } });
  });

  it('keeps model parameters for the catalog to coerce; a non-object means the defaults', () => {
    expect(
      parseDraftUpdate({
        model_config: { provider: 'openai', model: 'gpt-4o-mini', parameters: { temperature: 9 } },
      }),
    ).toEqual({
      model_config: { provider: 'openai', model: 'gpt-4o-mini', parameters: { temperature: 9 } },
    });
    expect(
      parseDraftUpdate({ model_config: { provider: 'openai', model: 'm', parameters: null } }),
    ).toEqual({ model_config: { provider: 'openai', model: 'm', parameters: {} } });
  });

  describe('tools', () => {
    const tool = (patch: Record<string, unknown> = {}) => ({
      type: 'builtin_tool',
      provider_id: 'time',
      tool_id: 'current_time',
      params: {},
      ...patch,
    });

    it('accepts up to 5 tools of the stored form', () => {
      const five = ['a', 'b', 'c', 'd', 'e'].map((n) => tool({ tool_id: n }));
      expect(parseDraftUpdate({ tools: five }).tools).toHaveLength(5);
      expect(errorsOf({ tools: [...five, tool({ tool_id: 'f' })] })).toEqual({
        tools: ['tools can have at most 5 items'],
      });
    });

    it.each<[Record<string, unknown>, string, RegExp]>([
      [{ type: 'mcp_tool' }, 'tools[0].type', /builtin_tool or api_tool/],
      [{ provider_id: '' }, 'tools[0].provider_id', /non-empty string/],
      [{ tool_id: null }, 'tools[0].tool_id', /non-empty string/],
      [{ params: [] }, 'tools[0].params', /must be an object/],
      [{ extra: 1 }, 'tools[0]', /exactly type, provider_id, tool_id and params/],
    ])('refuses a tool with %j', (patch, field, message) => {
      const errors = errorsOf({ tools: [tool(patch)] });
      expect(Object.keys(errors)).toEqual([field]);
      expect(errors[field][0]).toMatch(message);
    });

    it('refuses the same tool twice', () => {
      expect(errorsOf({ tools: [tool(), tool()] })).toEqual({
        'tools[1]': ['tools[1] binds time/current_time a second time; bind a tool once'],
      });
    });
  });

  describe('workflows and datasets', () => {
    it('takes up to 5 distinct UUIDs, lower-cased', () => {
      expect(parseDraftUpdate({ datasets: [UUID_A.toUpperCase(), UUID_B] })).toEqual({
        datasets: [UUID_A, UUID_B],
      });
      expect(errorsOf({ workflows: [UUID_A, UUID_A.toUpperCase()] })).toEqual({
        workflows: ['workflows lists the same workflow twice'],
      });
      expect(errorsOf({ datasets: ['nope'] })).toEqual({
        'datasets[0]': ['datasets[0] must be a dataset id (UUID)'],
      });
      const six = Array.from({ length: 6 }, (_, i) => UUID_A.replace(/1$/, String(i)));
      expect(errorsOf({ workflows: six })).toEqual({
        workflows: ['workflows can have at most 5 items'],
      });
      expect(errorsOf({ datasets: 'x' })).toEqual({
        datasets: ['datasets must be an array of dataset ids'],
      });
    });
  });

  describe('review_config', () => {
    it('trims keywords and drops blanks and repeats (a blank keyword would match everything)', () => {
      expect(
        parseDraftUpdate({ review_config: review({ keywords: [' spam ', '', 'spam', 'ads'] }) })
          .review_config?.keywords,
      ).toEqual(['spam', 'ads']);
    });

    it('allows a disabled review with no keywords', () => {
      const off = {
        enable: false,
        keywords: [],
        inputs_config: { enable: false, preset_response: '' },
        outputs_config: { enable: false },
      };
      expect(parseDraftUpdate({ review_config: off })).toEqual({ review_config: off });
    });

    it.each<[Record<string, unknown>, string, RegExp]>([
      [{ keywords: [] }, 'review_config.keywords', /must not be empty when the review is enabled/],
      [{ keywords: ['  '] }, 'review_config.keywords', /must not be empty/],
      [
        { keywords: Array.from({ length: 101 }, (_, i) => `k${i}`) },
        'review_config.keywords',
        /at most 100 items/,
      ],
      [{ keywords: ['x'.repeat(101)] }, 'review_config.keywords[0]', /at most 100 characters/],
      [{ keywords: [3] }, 'review_config.keywords[0]', /must be a string/],
      [
        { inputs_config: { enable: false, preset_response: '' } },
        'review_config',
        /Enable the review of inputs, of outputs, or both/,
      ],
      [
        { inputs_config: { enable: true, preset_response: ' ' } },
        'review_config.inputs_config.preset_response',
        /must not be empty when inputs are reviewed/,
      ],
      [
        { inputs_config: { enable: true } },
        'review_config.inputs_config',
        /exactly enable and preset_response/,
      ],
      [{ outputs_config: { enable: 1 } }, 'review_config.outputs_config.enable', /true or false/],
      [{ enable: 'on' }, 'review_config.enable', /true or false/],
    ])('refuses %j', (patch, field, message) => {
      const errors = errorsOf({ review_config: review(patch) });
      expect(Object.keys(errors)).toEqual([field]);
      expect(errors[field][0]).toMatch(message);
    });
  });
});
