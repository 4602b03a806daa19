import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { BuiltinCatalog } from 'src/modules/tool/builtin/builtin-catalog.service';
import { defaultAppConfig } from '../config/app-config.types';
import { BUILTIN_APPS_DIR, BuiltinAppCatalog } from './builtin-app-catalog.service';

type Json = Record<string, any>;

describe('BuiltinAppCatalog', () => {
  const models = new ModelCatalog();
  const tools = new BuiltinCatalog();

  describe('the shipped templates', () => {
    const catalog = new BuiltinAppCatalog(models, tools);

    it('load, each in a known category, with unique ids and in position order', () => {
      expect(catalog.apps.length).toBeGreaterThanOrEqual(6);
      const categories = new Set(catalog.categories.map((c) => c.category));
      for (const c of ['assistant', 'hr', 'writing', 'ecommerce'])
        expect(categories.has(c)).toBe(true);
      for (const a of catalog.apps) expect(categories.has(a.category)).toBe(true);
      expect(new Set(catalog.apps.map((a) => a.id)).size).toBe(catalog.apps.length);
      const positions = catalog.apps.map((a) => a.position);
      expect(positions).toEqual([...positions].sort((x, y) => x - y));
    });

    it('carry whole draft configs: every key, a real chat model, builtin tools that exist', () => {
      const keys = Object.keys(defaultAppConfig()).sort();
      for (const a of catalog.apps) {
        expect(Object.keys(a.config).sort()).toEqual(keys);
        const m = models.model(a.config.model_config.provider, a.config.model_config.model, 'chat');
        expect(Object.keys(a.config.model_config.parameters).sort()).toEqual(
          m.parameters.map((p) => p.name).sort(),
        );
        for (const t of a.config.tools) {
          expect(t.type).toBe('builtin_tool');
          expect(() => tools.tool(t.provider_id, t.tool_id)).not.toThrow();
        }
        expect(a.config.workflows).toEqual([]);
        expect(a.config.datasets).toEqual([]);
        expect(a.iconType).toBe('image/svg+xml');
      }
      // A useful set: at least one template with tools and one with moderation.
      expect(catalog.apps.some((a) => a.config.tools.length >= 2)).toBe(true);
      expect(catalog.apps.some((a) => a.config.review_config.enable)).toBe(true);
    });

    it('finds a template by id (any case) and answers not_found otherwise', () => {
      const first = catalog.apps[0];
      expect(catalog.app(first.id.toUpperCase())).toBe(first);
      expect(() => catalog.app('00000000-0000-4000-8000-000000000000')).toThrow(
        'The builtin app does not exist',
      );
    });
  });

  describe('a bad data file stops the boot naming the file and the field', () => {
    let root: string;
    let file: string;
    const original = (): Json =>
      JSON.parse(
        readFileSync(path.join(BUILTIN_APPS_DIR, 'templates', 'translator', 'app.json'), 'utf8'),
      ) as Json;

    beforeEach(() => {
      root = mkdtempSync(path.join(tmpdir(), 'builtin-apps-'));
      cpSync(path.join(BUILTIN_APPS_DIR, 'categories.json'), path.join(root, 'categories.json'));
      cpSync(
        path.join(BUILTIN_APPS_DIR, 'templates', 'translator'),
        path.join(root, 'templates', 'translator'),
        { recursive: true },
      );
      file = path.join(root, 'templates', 'translator', 'app.json');
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    const write = (edit: (j: Json) => void) => {
      const j = original();
      edit(j);
      writeFileSync(file, JSON.stringify(j));
    };
    const load = () => BuiltinAppCatalog.load(root, models, tools);

    it('accepts the copy as it is', () => {
      expect(load().apps.map((a) => a.name)).toEqual(['Translator']);
    });

    it.each<[string, (j: Json) => void, string]>([
      ['a malformed id', (j) => (j.id = 'translator'), 'id: must be a UUID'],
      ['an unknown category', (j) => (j.category = 'games'), 'category: "games" is not one of'],
      ['a long name', (j) => (j.name = 'x'.repeat(41)), 'name:'],
      ['an unknown key', (j) => (j.author = 'me'), 'author'],
      ['a missing icon', (j) => (j.icon = 'nope.svg'), 'icon: nope.svg does not exist'],
      [
        'a config key apps do not have',
        (j) => (j.draft_config.colour = 'red'),
        'draft_config.colour: colour is not a field of the app config',
      ],
      [
        'a config value out of range',
        (j) => (j.draft_config.dialog_round = 500),
        'draft_config.dialog_round: dialog_round must be an integer from 0 to 100',
      ],
      [
        'an unknown model',
        (j) => (j.draft_config.model_config.model = 'gpt-99'),
        'draft_config.model_config:',
      ],
      [
        'a parameter value the model refuses',
        (j) => (j.draft_config.model_config.parameters.temperature = 7),
        'draft_config.model_config.parameters.temperature: 7 is not a value openai/gpt-4o-mini accepts',
      ],
      [
        'an unknown builtin tool',
        (j) =>
          (j.draft_config.tools = [
            { type: 'builtin_tool', provider_id: 'time', tool_id: 'sundial', params: {} },
          ]),
        'draft_config.tools[0]: The builtin tool "sundial" does not exist',
      ],
      [
        'an API tool',
        (j) =>
          (j.draft_config.tools = [
            {
              type: 'api_tool',
              provider_id: '00000000-0000-4000-8000-000000000000',
              tool_id: 'x',
              params: {},
            },
          ]),
        'draft_config.tools[0].type: a template binds builtin tools only',
      ],
      [
        'a setting the tool does not declare',
        (j) =>
          (j.draft_config.tools = [
            {
              type: 'builtin_tool',
              provider_id: 'time',
              tool_id: 'current_time',
              params: { tz: 'x' },
            },
          ]),
        'draft_config.tools[0].params: tz not declared by time/current_time',
      ],
      [
        'a setting of the wrong value',
        (j) =>
          (j.draft_config.tools = [
            {
              type: 'builtin_tool',
              provider_id: 'wikipedia',
              tool_id: 'wikipedia_search',
              params: { language: 'klingon' },
            },
          ]),
        'draft_config.tools[0].params.language',
      ],
      [
        'a workflow',
        (j) => (j.draft_config.workflows = ['00000000-0000-4000-8000-000000000000']),
        'draft_config.workflows: a template binds no workflows',
      ],
    ])('%s', (_what, edit, message) => {
      write(edit);
      expect(load).toThrow(`Invalid builtin app ${file}: `);
      expect(load).toThrow(message);
    });

    it('two templates with one id or one position', () => {
      const second = path.join(root, 'templates', 'copy');
      cpSync(path.join(root, 'templates', 'translator'), second, { recursive: true });
      expect(load).toThrow(/id: .* is also the id of/);
      const j = original();
      j.id = '11111111-1111-4111-8111-111111111111';
      writeFileSync(path.join(second, 'app.json'), JSON.stringify(j));
      expect(load).toThrow(/position: \d+ is also the position of/);
    });

    it('a file that is not JSON, a category file with a duplicate', () => {
      writeFileSync(file, '{"id": ');
      expect(load).toThrow(`Invalid builtin app ${file}: not JSON`);
      writeFileSync(
        path.join(root, 'categories.json'),
        JSON.stringify([
          { category: 'writing', name: 'A' },
          { category: 'writing', name: 'B' },
        ]),
      );
      expect(load).toThrow('1.category: duplicate category "writing"');
    });
  });
});
