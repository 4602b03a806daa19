import type { CatalogModel } from 'src/modules/model/catalog/catalog.schema';
import { coerceParameters } from './model-parameters';

const param = (
  p: Partial<CatalogModel['parameters'][number]>,
): CatalogModel['parameters'][number] => ({
  name: 'p',
  label: 'P',
  type: 'float',
  help: '',
  required: false,
  default: null,
  min: null,
  max: null,
  precision: 2,
  options: [],
  ...p,
});

const model = {
  parameters: [
    param({ name: 'temperature', type: 'float', default: 1, min: 0, max: 2 }),
    param({ name: 'max_tokens', type: 'int', default: 4096, min: 1, max: 8192 }),
    param({
      name: 'mode',
      type: 'string',
      default: 'a',
      options: [
        { label: 'A', value: 'a' },
        { label: 'B', value: 'b' },
      ],
    }),
    param({ name: 'stream', type: 'boolean', default: false }),
    param({ name: 'seed', type: 'int' }),
  ],
} as unknown as CatalogModel;

describe('coerceParameters', () => {
  it('keeps valid values, fills in defaults and drops unknown names', () => {
    expect(
      coerceParameters(model, {
        temperature: 0,
        max_tokens: 100,
        mode: 'b',
        stream: true,
        seed: 7,
        x: 1,
      }),
    ).toEqual({ temperature: 0, max_tokens: 100, mode: 'b', stream: true, seed: 7 });
    expect(coerceParameters(model, {})).toEqual({
      temperature: 1,
      max_tokens: 4096,
      mode: 'a',
      stream: false,
    });
    expect(coerceParameters(model, null)).toEqual(coerceParameters(model, {}));
  });

  it('replaces a wrong type, an out-of-range value or a value outside the options by the default', () => {
    expect(
      coerceParameters(model, {
        temperature: 2.5,
        max_tokens: 10.5,
        mode: 'c',
        stream: 'yes',
        seed: 'x',
      }),
    ).toEqual({ temperature: 1, max_tokens: 4096, mode: 'a', stream: false });
    expect(coerceParameters(model, { temperature: '0.5', max_tokens: 0 })).toMatchObject({
      temperature: 1,
      max_tokens: 4096,
    });
  });

  it('accepts integers for floats (sliders send 0 and 1 as integers)', () => {
    expect(coerceParameters(model, { temperature: 2 })).toMatchObject({ temperature: 2 });
  });
});
