import { lazyRequire } from '@app/common';
import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

// ajv loads (and compiles its meta-schemas) with the first tool call, not at boot.
const ajvLib = lazyRequire<typeof import('ajv')>('ajv');
const ajv2020Lib = lazyRequire<typeof import('ajv/dist/2020')>('ajv/dist/2020');
const ajvFormats = lazyRequire<typeof import('ajv-formats')>('ajv-formats');
import type { JsonSchema } from './tool.types';

export interface ArgsCheck {
  ok: boolean;
  /** Field path (`query`, `filters.limit`, `(arguments)`) -> messages, as validate_error answers. */
  errors: Record<string, string[]>;
}

function makeAjv<T extends Ajv>(ctor: new (opts: object) => T): T {
  // strict false: schemas come from third parties (OpenAPI documents, MCP servers) and carry
  // keywords ajv does not know (`example`, `x-*`); coerceTypes is off so "5" is not a number.
  const ajv = new ctor({ strict: false, allErrors: true, validateFormats: true });
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
