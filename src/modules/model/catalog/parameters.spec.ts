import { ValidateError } from '@app/common';
import { CatalogModel, expandParameters } from './catalog.schema';
import { normalizeParameters, priceOf, validateParameters } from './parameters';

const model: CatalogModel = {
  provider: 'openai',
  model_name: 'gpt-test',
  label: 'GPT test',
  model_type: 'chat',
  features: [],
  context_window: 1000,
  max_output_tokens: 500,
  parameters: [
    ...expandParameters([
      { use_template: 'temperature', max: 1, default: 0.3 },
      { use_template: 'max_tokens', default: 256, max: 500 },
    ]),
    {
      name: 'mode',
      label: 'Mode',
      type: 'string',
      help: '',
      required: false,
      default: 'fast',
      min: null,
      max: null,
      precision: 0,
      options: [
        { label: 'Fast', value: 'fast' },
        { label: 'Slow', value: 'slow' },
      ],
    },
    {
      name: 'seed',
      label: 'Seed',
      type: 'int',
      help: '',
      required: true,
      default: null,
      min: 0,
      max: null,
      precision: 0,
      options: [],
    },
  ],
  pricing: { input: 0.15, output: 0.6, unit: 1_000_000, currency: 'USD' },
};

function fields(fn: () => unknown): Record<string, string[]> {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidateError) return err.data as Record<string, string[]>;
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('parameters', () => {
  it('fills defaults and keeps valid values (an integer is a valid float)', () => {
    expect(validateParameters(model, { seed: 7, temperature: 1 })).toEqual({
      temperature: 1,
      max_tokens: 256,
      mode: 'fast',
      seed: 7,
    });
  });

  it('names every problem', () => {
    expect(
      fields(() =>
        validateParameters(model, { temperature: 1.5, max_tokens: 2.5, mode: 'medium', top_k: 3 }),
      ),
    ).toEqual({
      'parameters.top_k': ['top_k is not a parameter of openai/gpt-test'],
      'parameters.temperature': ['temperature must be at most 1'],
      'parameters.max_tokens': ['max_tokens must be an integer'],
      'parameters.mode': ['mode must be one of "fast", "slow"'],
      'parameters.seed': ['seed is required'],
    });
    expect(fields(() => validateParameters(model, { seed: -1, temperature: '0.5' }))).toEqual({
      'parameters.seed': ['seed must be at least 0'],
      'parameters.temperature': ['temperature must be a number'],
    });
  });

  it('normalizes stored values leniently', () => {
    expect(normalizeParameters(model, { temperature: 9, mode: 'slow', bogus: 1 })).toEqual({
      temperature: 0.3,
      max_tokens: 256,
      mode: 'slow',
    });
  });

  it('prices calls per unit of tokens', () => {
    expect(priceOf(model.pricing, 1000, 500)).toBe(0.00045);
    expect(priceOf({ input: 2, output: 8, unit: 1000, currency: 'CNY' }, 1500, 250)).toBe(5);
    expect(priceOf(model.pricing, 0, 0)).toBe(0);
  });
});
