import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BUILTIN_DATA_DIR, BuiltinCatalog, consoleInputs } from './builtin-catalog.service';
import { checkParams } from './builtin-params';
import { BUILTIN_TOOL_IMPLS } from './tools';

type Json = Record<string, any>;

describe('BuiltinCatalog data', () => {
  let root: string;
  const file = (provider: string) => path.join(root, 'providers', provider, 'provider.json');
  const edit = (provider: string, change: (p: Json) => void) => {
    const data = JSON.parse(readFileSync(file(provider), 'utf8')) as Json;
    change(data);
    writeFileSync(file(provider), JSON.stringify(data));
  };
  const load = () => BuiltinCatalog.load(root, BUILTIN_TOOL_IMPLS);

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'builtin-tools-'));
    cpSync(path.join(BUILTIN_DATA_DIR, 'providers'), path.join(root, 'providers'), {
      recursive: true,
    });
    cpSync(path.join(BUILTIN_DATA_DIR, 'categories.json'), path.join(root, 'categories.json'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('loads the shipped providers in position order, each tool with its code', () => {
    const { providers, categories } = load();
    expect(providers.map((p) => p.name)).toEqual([
      'google',
      'time',
      'duckduckgo',
      'dalle',
      'gaode',
      'wikipedia',
    ]);
    expect(providers.flatMap((p) => p.tools.map((t) => `${p.name}/${t.name}`)).sort()).toEqual(
      Object.keys(BUILTIN_TOOL_IMPLS).sort(),
    );
    expect(categories.map((c) => c.category)).toEqual([
      'search',
      'image',
      'weather',
      'tool',
      'other',
    ]);
    for (const p of providers) expect(p.iconBytes.toString('utf8')).toMatch(/^<svg[\s>]/);
  });

  it.each<[string, string, (p: Json) => void, RegExp]>([
    [
      'a select default outside its options',
      'dalle',
      (p) => (p.tools[0].params[0].default = '512x512'),
      /dalle\/provider\.json: tools\.0\.params\.0\.default: must be one of the options/,
    ],
    [
      'a number default above max',
      'duckduckgo',
      (p) => (p.tools[0].params[0].default = 99),
      /duckduckgo\/provider\.json: tools\.0\.params\.0\.default: is above max 20/,
    ],
    [
      'an unknown param type',
      'time',
      (p) => (p.tools[0].params[0].type = 'date'),
      /time\/provider\.json: tools\.0\.params\.0\.type: /,
    ],
    ['a missing label', 'google', (p) => delete p.label, /google\/provider\.json: label: /],
    [
      'an unknown field',
      'google',
      (p) => (p.colour = 'red'),
      /google\/provider\.json: \(root\): Unrecognized key: "colour"/,
    ],
    [
      'a required input that is not a property',
      'wikipedia',
      (p) => p.tools[0].inputs.required.push('lang'),
      /wikipedia\/provider\.json: tools\.0\.inputs\.required\.1: "lang" is not in properties/,
    ],
    [
      'an input of an unsupported type',
      'gaode',
      (p) => (p.tools[1].inputs.properties.ip.type = 'array'),
      /gaode\/provider\.json: tools\.1\.inputs\.properties\.ip\.type: /,
    ],
    [
      'an input schema ajv refuses',
      'gaode',
      (p) => (p.tools[0].inputs.properties.city.minLength = 'one'),
      /gaode\/provider\.json: tools\.0\.inputs: The tool's input schema is not valid JSON Schema/,
    ],
    [
      'an unknown category',
      'time',
      (p) => (p.category = 'clock'),
      /time\/provider\.json: category: "clock" is not one of search, image, weather, tool, other/,
    ],
    [
      'a name other than its folder',
      'time',
      (p) => (p.name = 'clock'),
      /time\/provider\.json: name: must equal its folder name "time"/,
    ],
    [
      'a tool without code',
      'time',
      (p) => p.tools.push({ ...p.tools[0], name: 'sundial' }),
      /time\/provider\.json: tools\.1\.name: no code implements "time\/sundial"/,
    ],
    [
      'a tool without its data',
      'gaode',
      (p) => p.tools.pop(),
      /no provider\.json declares gaode\/gaode_ip/,
    ],
    [
      'a duplicate position',
      'wikipedia',
      (p) => (p.position = 1),
      /position: 1 is also the position of "google"/,
    ],
    [
      'a missing icon file',
      'wikipedia',
      (p) => (p.icon = 'logo.svg'),
      /wikipedia\/provider\.json: icon: logo\.svg does not exist/,
    ],
  ])('refuses %s, naming the file and the field', (_what, provider, change, message) => {
    edit(provider, change);
    expect(load).toThrow(message);
  });

  it('refuses a provider.json that is not JSON', () => {
    writeFileSync(file('time'), '{"name": "time",');
    expect(load).toThrow(/time\/provider\.json: not JSON/);
  });

  it('refuses a provider folder without provider.json', () => {
    unlinkSync(file('time'));
    expect(load).toThrow(/time\/provider\.json: missing/);
  });

  it('refuses an icon that is not SVG markup', () => {
    writeFileSync(path.join(root, 'providers', 'time', 'icon.svg'), 'GIF89a');
    expect(load).toThrow(/time\/provider\.json: icon: icon\.svg is not SVG markup/);
  });

  it('refuses a category whose icon is not inline SVG', () => {
    const cats = JSON.parse(readFileSync(path.join(root, 'categories.json'), 'utf8')) as Json[];
    cats[2].icon = 'weather.svg';
    writeFileSync(path.join(root, 'categories.json'), JSON.stringify(cats));
    expect(load).toThrow(/categories\.json: 2\.icon: must be inline SVG markup/);
  });

  it('maps JSON Schema inputs to the console’s Python type names', () => {
    expect(
      consoleInputs({
        type: 'object',
        properties: {
          q: { type: 'string', description: 'query' },
          n: { type: 'integer', description: '' },
          x: { type: 'number', description: '' },
          b: { type: 'boolean', description: '' },
        },
        required: ['q'],
      }),
    ).toEqual([
      { name: 'q', description: 'query', required: true, type: 'str' },
      { name: 'n', description: '', required: false, type: 'int' },
      { name: 'x', description: '', required: false, type: 'float' },
      { name: 'b', description: '', required: false, type: 'bool' },
    ]);
  });
});

describe('checkParams', () => {
  const { providers } = BuiltinCatalog.load(BUILTIN_DATA_DIR, BUILTIN_TOOL_IMPLS);
  const paramsOf = (provider: string) =>
    providers.find((p) => p.name === provider)!.tools[0].params;

  it('fills defaults and drops unknown keys', () => {
    expect(checkParams(paramsOf('dalle'), { style: 'natural', fileList: [] })).toEqual({
      ok: true,
      params: { size: '1024x1024', style: 'natural' },
    });
    expect(checkParams(paramsOf('wikipedia'), undefined)).toEqual({
      ok: true,
      params: { language: 'en', top_k: 3 },
    });
  });

  it('names the param that is wrong', () => {
    expect(checkParams(paramsOf('dalle'), { size: '512x512' })).toEqual({
      ok: false,
      errors: {
        'params.size': ['params.size must be one of "1024x1024", "1792x1024", "1024x1792"'],
      },
    });
    expect(checkParams(paramsOf('wikipedia'), { top_k: 11 })).toMatchObject({
      ok: false,
      errors: { 'params.top_k': ['params.top_k must be at most 10'] },
    });
    expect(checkParams(paramsOf('wikipedia'), { top_k: '3' })).toMatchObject({
      ok: false,
      errors: { 'params.top_k': ['params.top_k must be a number'] },
    });
    expect(checkParams(paramsOf('time'), { timezone: 8 })).toMatchObject({
      ok: false,
      errors: { 'params.timezone': ['params.timezone must be a string'] },
    });
  });

  it('requires a required param without a default', () => {
    const declared = [
      {
        name: 'mode',
        label: 'Mode',
        type: 'boolean' as const,
        required: true,
        default: null,
        min: null,
        max: null,
        options: [],
      },
    ];
    expect(checkParams(declared, {})).toEqual({
      ok: false,
      errors: { 'params.mode': ['params.mode is required'] },
    });
    expect(checkParams(declared, { mode: 'yes' })).toMatchObject({ ok: false });
    expect(checkParams(declared, { mode: false })).toEqual({ ok: true, params: { mode: false } });
  });
});
