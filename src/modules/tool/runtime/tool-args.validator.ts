import { lazyRequire } from '@app/common';
import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

// ajv loads (and compiles its meta-schemas) with the first tool call, not at boot.
const ajvLib = lazyRequire<typeof import('ajv')>('ajv');
const ajv2020Lib = lazyRequire<typeof import('ajv/dist/2020')>('ajv/dist/2020');
const ajvFormats = lazyRequire<typeof import('ajv-formats')>('ajv-formats');
const re2js = lazyRequire<typeof import('re2js')>('re2js');
import { SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_ONE } from '../api-tool/openapi/schema-convert';
import type { JsonSchema } from './tool.types';

/**
 * `pattern` and `patternProperties` of third-party schemas run on RE2 (re2js, linear time): with
 * JavaScript's backtracking engine a pattern such as `^(a+)+$` froze the process on a 40-character
 * argument. A pattern RE2 cannot read (lookarounds, backreferences) constrains nothing, as an
 * unknown keyword does: the tool's server still checks its own input.
 */
const linearRegExp = Object.assign(
  (source: string): { test: (s: string) => boolean; toString: () => string } => {
    // ajv keys compiled patterns by toString(): each must name its own source.
    try {
      const re = re2js().RE2JS.compile(source);
      return { test: (s: string) => re.test(s), toString: () => `re2:${source}` };
    } catch {
      return { test: () => true, toString: () => `unreadable:${source}` };
    }
  },
  { code: 're2js' },
);

export interface ArgsCheck {
  ok: boolean;
  /** Field path (`query`, `filters.limit`, `(arguments)`) -> messages, as validate_error answers. */
  errors: Record<string, string[]>;
}

function makeAjv<T extends Ajv>(ctor: new (opts: object) => T): T {
  // strict false: schemas come from third parties (OpenAPI documents, MCP servers) and carry
  // keywords ajv does not know (`example`, `x-*`); coerceTypes is off so "5" is not a number.
  const ajv = new ctor({
    strict: false,
    allErrors: true,
    validateFormats: true,
    code: { regExp: linearRegExp },
  });
  ajvFormats().default(ajv);
  return ajv;
}

function fieldOf(e: ErrorObject): string {
  const base = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const missing = e.keyword === 'required' ? String(e.params.missingProperty) : '';
  const extra = e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : '';
  const leaf = missing || extra;
  return [base, leaf].filter(Boolean).join('.') || '(arguments)';
}

function messageOf(field: string, e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not an argument of this tool`;
    case 'enum':
      return `${field} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${field} ${e.message ?? 'is invalid'}`;
  }
}

interface Compiled {
  fn: ValidateFunction;
  ajv: Ajv;
  /** The object ajv compiled (and keeps in its own cache until removed). */
  schema: object;
}

/** Distinct schemas kept compiled; the least recently used beyond this are dropped. */
export const MAX_COMPILED_SCHEMAS = 1000;

/**
 * Checks tool arguments against the tool's JSON Schema (draft-07, or 2020-12 when the schema
 * says so). Compiled validators are cached by the schema's JSON text, since sources build a new
 * schema object for every resolve (from a database row): equal schemas compile once, and the
 * cache is bounded, each eviction also removing the schema from ajv's own cache.
 */
export class ToolArgsValidator {
  private draft7Instance?: Ajv;
  private draft2020Instance?: Ajv;

  private get draft7(): Ajv {
    return (this.draft7Instance ??= makeAjv(ajvLib().default));
  }

  private get draft2020(): Ajv {
    return (this.draft2020Instance ??= makeAjv(ajv2020Lib().default));
  }
  private readonly compiled = new Map<string, Compiled>();

  /** Schemas currently compiled (for tests and metrics). */
  get size(): number {
    return this.compiled.size;
  }

  check(schema: JsonSchema, args: unknown): ArgsCheck {
    const validate = this.compile(schema);
    if (validate(args)) return { ok: true, errors: {} };
    const errors: Record<string, string[]> = {};
    for (const e of validate.errors ?? []) {
      const field = fieldOf(e);
      (errors[field] ??= []).push(messageOf(field, e));
    }
    return { ok: false, errors };
  }

  /** Null when the schema compiles; else why not (sources call this before they store one). */
  schemaProblem(schema: JsonSchema): string | null {
    try {
      this.compile(schema);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  private compile(schema: JsonSchema): ValidateFunction {
    const key = JSON.stringify(schema);
    const hit = this.compiled.get(key);
    if (hit) {
      // Most recently used last: Map keeps insertion order.
      this.compiled.delete(key);
      this.compiled.set(key, hit);
      return hit.fn;
    }
    const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
    // Ids and declared meta-schemas would collide across tools in one ajv instance; the
    // dialect is chosen here instead.
    const { $schema: _meta, $id: _id, ...body } = schema;
    const ajv =
      declared.includes('2020-12') || declared.includes('2019-09') ? this.draft2020 : this.draft7;
    let fn: ValidateFunction;
    try {
      fn = ajv.compile(body);
    } catch (err) {
      ajv.removeSchema(body);
      throw new Error(
        `The tool's input schema is not valid JSON Schema: ${(err as Error).message}`,
      );
    }
    this.compiled.set(key, { fn, ajv, schema: body });
    if (this.compiled.size > MAX_COMPILED_SCHEMAS) {
      const [oldestKey, oldest] = this.compiled.entries().next().value as [string, Compiled];
      this.compiled.delete(oldestKey);
      oldest.ajv.removeSchema(oldest.schema);
    }
    return fn;
  }
}

/** Keywords whose values map names to subschemas (the names are not keywords). */
const SUBSCHEMA_MAPS = new Set([...SCHEMA_MAPS, '$defs', 'definitions']);
/** Keywords whose values are a subschema, or a list of them. */
const SUBSCHEMAS = new Set([...SCHEMA_LISTS, ...SCHEMA_ONE]);

/**
 * The schema without `pattern` and `patternProperties`, for LangChain's tools: LangChain checks a
 * tool's arguments with @cfworker/json-schema, which runs patterns on JavaScript's backtracking
 * engine (a model's arguments could freeze the process). The arguments still meet the whole
 * schema: every call goes through ToolArgsValidator, whose patterns run on RE2.
 */
export function withoutPatterns(schema: JsonSchema): JsonSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'pattern' && typeof value === 'string') || key === 'patternProperties') continue;
      if (SUBSCHEMA_MAPS.has(key) && value && typeof value === 'object' && !Array.isArray(value)) {
        out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
      } else out[key] = SUBSCHEMAS.has(key) ? walk(value) : value;
    }
    return out;
  };
  return walk(schema) as JsonSchema;
}
