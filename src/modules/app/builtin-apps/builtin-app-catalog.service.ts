import { NotFoundError, ValidateError } from '@app/common';
import { Injectable } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { BuiltinCatalog } from 'src/modules/tool/builtin/builtin-catalog.service';
import { checkParams } from 'src/modules/tool/builtin/builtin-params';
import { defaultAppConfig, type AppConfigFields } from '../config/app-config.types';
import { parseDraftUpdate } from '../config/draft-config.validator';
import { coerceParameters } from '../config/model-parameters';
import {
  builtinAppCategoriesSchema,
  builtinAppFileSchema,
  type BuiltinAppCategory,
  type BuiltinAppFile,
} from './builtin-app.schema';

/** Where the data files live (copied next to the compiled code by nest build). */
export const BUILTIN_APPS_DIR = __dirname;

/** A template: its listing fields, its whole draft config and its icon. */
export interface BuiltinApp extends Omit<BuiltinAppFile, 'draft_config' | 'icon'> {
  config: AppConfigFields;
  iconBytes: Buffer;
  iconType: string;
}

export interface BuiltinAppsData {
  categories: BuiltinAppCategory[];
  apps: BuiltinApp[];
}

function issues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function readJson(file: string, fail: (msg: string) => Error): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`cannot be read (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw fail(`not JSON (${(err as Error).message})`);
  }
}

/**
 * The builtin apps (templates) and their categories: data files validated once at boot, each
 * template's draft config by the apps' own validator and against the model and builtin tool
 * catalogs, so that adding one to a space always gives a working app.
 */
@Injectable()
export class BuiltinAppCatalog {
  private readonly data: BuiltinAppsData;
  private readonly byId: Map<string, BuiltinApp>;

  constructor(models: ModelCatalog, tools: BuiltinCatalog) {
    this.data = BuiltinAppCatalog.load(BUILTIN_APPS_DIR, models, tools);
    this.byId = new Map(this.data.apps.map((a) => [a.id, a]));
  }

  /** Reads and checks every data file under `root`; throws naming the file and field. */
  static load(root: string, models: ModelCatalog, tools: BuiltinCatalog): BuiltinAppsData {
    const catFile = path.join(root, 'categories.json');
    const catFail = (msg: string) => new Error(`Invalid builtin app data ${catFile}: ${msg}`);
    const cats = builtinAppCategoriesSchema.safeParse(readJson(catFile, catFail));
    if (!cats.success) throw catFail(issues(cats.error));
    const known = new Set(cats.data.map((c) => c.category));
    const dir = path.join(root, 'templates');
    const ids = new Map<string, string>();
    const positions = new Map<number, string>();
    const apps = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d): BuiltinApp => {
        const file = path.join(dir, d.name, 'app.json');
        const fail = (msg: string) => new Error(`Invalid builtin app ${file}: ${msg}`);
        if (!existsSync(file)) throw fail('missing');
        const parsed = builtinAppFileSchema.safeParse(readJson(file, fail));
        if (!parsed.success) throw fail(issues(parsed.error));
        const { draft_config, icon, ...fields } = parsed.data;
        if (!known.has(fields.category))
          throw fail(`category: "${fields.category}" is not one of ${[...known].join(', ')}`);
        const sameId = ids.get(fields.id.toLowerCase());
        if (sameId) throw fail(`id: ${fields.id} is also the id of "${sameId}"`);
        ids.set(fields.id.toLowerCase(), d.name);
        const samePosition = positions.get(fields.position);
        if (samePosition)
          throw fail(`position: ${fields.position} is also the position of "${samePosition}"`);
        positions.set(fields.position, d.name);
        const iconFile = path.join(dir, d.name, icon);
        if (!existsSync(iconFile)) throw fail(`icon: ${icon} does not exist`);
        const iconBytes = readFileSync(iconFile);
        const isSvg = icon.endsWith('.svg');
        if (isSvg && !/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(iconBytes.toString('utf8', 0, 512)))
          throw fail(`icon: ${icon} is not SVG markup`);
        const config = BuiltinAppCatalog.checkConfig(draft_config, models, tools, fail);
        return {
          ...fields,
          id: fields.id.toLowerCase(),
          config,
          iconBytes,
          iconType: isSvg ? 'image/svg+xml' : 'image/png',
        };
      });
    if (!apps.length) throw new Error(`Invalid builtin app data ${dir}: no template`);
    return { categories: cats.data, apps: apps.sort((a, b) => a.position - b.position) };
  }

  /**
   * A template's draft config, strictly: the apps' validator (keys, shapes, limits), a chat model
   * of the catalog with parameter values it accepts, builtin tools that exist with settings
   * they declare and accept, no workflows or datasets (those belong to an account).
   */
  private static checkConfig(
    given: Record<string, unknown>,
    models: ModelCatalog,
    tools: BuiltinCatalog,
    fail: (msg: string) => Error,
  ): AppConfigFields {
    let config: AppConfigFields;
    try {
      config = { ...defaultAppConfig(), ...parseDraftUpdate(given) };
    } catch (e) {
      if (!(e instanceof ValidateError)) throw e;
      const fields = e.data as Record<string, string[]>;
      throw fail(
        Object.entries(fields)
          .map(([k, m]) => `draft_config.${k}: ${m[0]}`)
          .join('; '),
      );
    }
    const mc = config.model_config;
    let model;
    try {
      model = models.model(mc.provider, mc.model, 'chat');
    } catch (e) {
      if (e instanceof NotFoundError) throw fail(`draft_config.model_config: ${e.message}`);
      throw e;
    }
    const parameters = coerceParameters(model, mc.parameters);
    for (const [name, value] of Object.entries(mc.parameters)) {
      if (!isDeepStrictEqual(parameters[name], value))
        throw fail(
          `draft_config.model_config.parameters.${name}: ${JSON.stringify(value)} is not a value ${mc.provider}/${mc.model} accepts`,
        );
    }
    config.model_config = { ...mc, parameters };
    config.tools = config.tools.map((t, i) => {
      const where = `draft_config.tools[${i}]`;
      if (t.type !== 'builtin_tool')
        throw fail(`${where}.type: a template binds builtin tools only`);
      let declared;
      try {
        declared = tools.tool(t.provider_id, t.tool_id).params;
      } catch (e) {
        if (e instanceof NotFoundError) throw fail(`${where}: ${e.message}`);
        throw e;
      }
      const unknown = Object.keys(t.params).filter((k) => !declared.some((p) => p.name === k));
      if (unknown.length)
        throw fail(
          `${where}.params: ${unknown.join(', ')} not declared by ${t.provider_id}/${t.tool_id}`,
        );
      const checked = checkParams(declared, t.params);
      if (!checked.ok)
        throw fail(
          Object.entries(checked.errors)
            .map(([k, m]) => `${where}.${k}: ${m[0]}`)
            .join('; '),
        );
      return { ...t, params: { ...t.params } };
    });
    if (config.workflows.length)
      throw fail('draft_config.workflows: a template binds no workflows');
    if (config.datasets.length) throw fail('draft_config.datasets: a template binds no datasets');
    return config;
  }

  get categories(): readonly BuiltinAppCategory[] {
    return this.data.categories;
  }

  get apps(): readonly BuiltinApp[] {
    return this.data.apps;
  }

  /** A template by id; not_found when there is none. */
  app(id: string): BuiltinApp {
    const found = this.byId.get(id.toLowerCase());
    if (!found) throw new NotFoundError('The builtin app does not exist');
    return found;
  }
}
