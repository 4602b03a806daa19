import { NotFoundError } from '@app/common';
import { Injectable } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { ToolArgsValidator } from 'src/modules/tool/runtime/tool-args.validator';
import type { ToolInputSchema } from 'src/modules/tool/runtime/tool.types';
import {
  categoriesFileSchema,
  providerFileSchema,
  type Category,
  type ProviderFile,
  type ToolFile,
} from './builtin.schema';
import { BUILTIN_TOOL_IMPLS, type BuiltinToolImpl } from './tools';

/** Where the data files live (copied next to the compiled code by nest build). */
export const BUILTIN_DATA_DIR = __dirname;

export interface BuiltinTool extends ToolFile {
  provider: string;
  impl: BuiltinToolImpl;
}

export interface BuiltinProvider extends Omit<ProviderFile, 'tools'> {
  tools: BuiltinTool[];
  iconBytes: Buffer;
  iconType: string;
}

export interface BuiltinData {
  providers: BuiltinProvider[];
  categories: Category[];
}

/** The console's `inputs[]` item: the JSON Schema property as a Python type name. */
export interface ConsoleInput {
  name: string;
  description: string;
  required: boolean;
  type: 'str' | 'int' | 'float' | 'bool';
}

const PY_TYPES: Record<string, ConsoleInput['type']> = {
  integer: 'int',
  number: 'float',
  boolean: 'bool',
};

export function consoleInputs(schema: ToolFile['inputs']): ConsoleInput[] {
  return Object.entries(schema.properties).map(([name, prop]) => ({
    name,
    description: prop.description ?? '',
    required: schema.required.includes(name),
    type: PY_TYPES[prop.type] ?? 'str',
  }));
}

function issues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `Invalid builtin tool data ${file}: cannot be read (${(err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Invalid builtin tool data ${file}: not JSON (${(err as Error).message})`);
  }
}

/**
 * The builtin tool providers and categories: data files (`providers/<name>/provider.json` with
 * its icon, `categories.json`), validated once at boot so that a bad file stops the service with
 * its path and field, and matched against the code of each tool. The console's lists never
 * change, so their JSON is built once here.
 */
@Injectable()
export class BuiltinCatalog {
  private readonly data: BuiltinData;
  private readonly byName: Map<string, BuiltinProvider>;
  /** The JSON of `data` in the list and categories envelopes, and of each tool's detail. */
  readonly listJson: string;
  readonly categoriesJson: string;
  private readonly detailJson = new Map<string, string>();

  constructor() {
    this.data = BuiltinCatalog.load(BUILTIN_DATA_DIR, BUILTIN_TOOL_IMPLS);
    this.byName = new Map(this.data.providers.map((p) => [p.name, p]));
    this.listJson = JSON.stringify(this.data.providers.map((p) => this.listEntry(p)));
    this.categoriesJson = JSON.stringify(this.data.categories);
    for (const p of this.data.providers)
      for (const t of p.tools)
        this.detailJson.set(`${p.name}/${t.name}`, JSON.stringify(this.detail(p, t)));
  }

  /** Reads and checks every data file under `root`; throws naming the file and field. */
  static load(root: string, impls: Readonly<Record<string, BuiltinToolImpl>>): BuiltinData {
    const catFile = path.join(root, 'categories.json');
    const cats = categoriesFileSchema.safeParse(readJson(catFile));
    if (!cats.success)
      throw new Error(`Invalid builtin tool data ${catFile}: ${issues(cats.error)}`);
    const categories = cats.data;
    const known = new Set(categories.map((c) => c.category));
    const validator = new ToolArgsValidator();
    const dir = path.join(root, 'providers');
    const positions = new Map<number, string>();
    const implemented = new Set<string>();
    const providers = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d): BuiltinProvider => {
        const file = path.join(dir, d.name, 'provider.json');
        const fail = (msg: string) => new Error(`Invalid builtin tool provider ${file}: ${msg}`);
        if (!existsSync(file)) throw fail('missing');
        const parsed = providerFileSchema.safeParse(readJson(file));
        if (!parsed.success) throw fail(issues(parsed.error));
        const p = parsed.data;
        if (p.name !== d.name) throw fail(`name: must equal its folder name "${d.name}"`);
        if (!known.has(p.category))
          throw fail(`category: "${p.category}" is not one of ${[...known].join(', ')}`);
        const other = positions.get(p.position);
        if (other) throw fail(`position: ${p.position} is also the position of "${other}"`);
        positions.set(p.position, p.name);
        const iconFile = path.join(dir, d.name, p.icon);
        if (!existsSync(iconFile)) throw fail(`icon: ${p.icon} does not exist`);
        const iconBytes = readFileSync(iconFile);
        const isSvg = p.icon.endsWith('.svg');
        if (isSvg && !/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(iconBytes.toString('utf8', 0, 512)))
          throw fail(`icon: ${p.icon} is not SVG markup`);
        const tools = p.tools.map((t, i): BuiltinTool => {
          const key = `${p.name}/${t.name}`;
          const impl = impls[key];
          if (!impl) throw fail(`tools.${i}.name: no code implements "${key}"`);
          const problem = validator.schemaProblem(t.inputs);
          if (problem) throw fail(`tools.${i}.inputs: ${problem}`);
          implemented.add(key);
          return { ...t, provider: p.name, impl };
        });
        return { ...p, tools, iconBytes, iconType: isSvg ? 'image/svg+xml' : 'image/png' };
      });
    const orphans = Object.keys(impls).filter((k) => !implemented.has(k));
    if (orphans.length)
      throw new Error(
        `Invalid builtin tool data ${dir}: no provider.json declares ${orphans.join(', ')}`,
      );
    return { providers: providers.sort((a, b) => a.position - b.position), categories };
  }

  get providers(): readonly BuiltinProvider[] {
    return this.data.providers;
  }

  get categories(): readonly Category[] {
    return this.data.categories;
  }

  provider(name: string): BuiltinProvider {
    const p = this.byName.get(name);
    if (!p) throw new NotFoundError(`The builtin tool provider "${name}" does not exist`);
    return p;
  }

  tool(providerName: string, toolName: string): BuiltinTool {
    const t = this.provider(providerName).tools.find((x) => x.name === toolName);
    if (!t)
      throw new NotFoundError(
        `The builtin tool "${toolName}" does not exist in provider "${providerName}"`,
      );
    return t;
  }

  /** The JSON of `GET /builtin-tools/:provider/tools/:tool`'s data; NotFoundError when unknown. */
  detailJsonOf(providerName: string, toolName: string): string {
    this.tool(providerName, toolName);
    return this.detailJson.get(`${providerName}/${toolName}`)!;
  }

  inputSchema(tool: BuiltinTool): ToolInputSchema {
    return tool.inputs;
  }

  private toolEntry(t: BuiltinTool) {
    return {
      name: t.name,
      label: t.label,
      description: t.description,
      params: t.params.map((p) => ({
        name: p.name,
        label: p.label,
        type: p.type,
        required: p.required,
        default: p.default,
        min: p.min,
        max: p.max,
        options: p.options,
      })),
      inputs: consoleInputs(t.inputs),
    };
  }

  /** CONSOLE-SHAPES §1.1: the provider without its icon, plus its tools. */
  private listEntry(p: BuiltinProvider) {
    return {
      name: p.name,
      label: p.label,
      description: p.description,
      background: p.background,
      category: p.category,
      created_at: 0,
      tools: p.tools.map((t) => this.toolEntry(t)),
    };
  }

  /** CONSOLE-SHAPES §1.3: the tool with a provider summary (no icon, no created_at). */
  private detail(p: BuiltinProvider, t: BuiltinTool) {
    return {
      provider: {
        name: p.name,
        label: p.label,
        description: p.description,
        background: p.background,
        category: p.category,
      },
      ...this.toolEntry(t),
      created_at: 0,
    };
  }
}
