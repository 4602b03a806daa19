import type { JsonSchema } from 'src/modules/tool/runtime/tool.types';

/** Formats ajv-formats knows; any other `format` is dropped (ajv would warn on every compile). */
const KNOWN_FORMATS = new Set(
  'date,time,date-time,iso-time,iso-date-time,duration,uri,uri-reference,uri-template,url,email,hostname,ipv4,ipv6,regex,uuid,json-pointer,json-pointer-uri-fragment,relative-json-pointer,byte,int32,int64,float,double,password,binary'.split(
    ',',
  ),
);
/** OpenAPI-only or annotation keywords that mean nothing to a JSON Schema validator. */
const DROPPED = new Set([
  'example',
  'xml',
  'externalDocs',
  'discriminator',
  'nullable',
  '$schema',
  '$id',
  '$anchor',
  '$dynamicAnchor',
  '$defs',
  'definitions',
  '$comment',
]);
/** Keywords whose value maps names to subschemas. */
export const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'dependentSchemas']);
/** Keywords whose value is a list of subschemas. */
export const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
/** Keywords whose value is one subschema (`items` may also be a list, in older drafts). */
export const SCHEMA_ONE = new Set([
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'additionalItems',
]);

/** Deeper nesting (recursive structures once $refs are expanded) is accepted as "any". */
const MAX_SCHEMA_DEPTH = 16;

export class SchemaBudget {
  private used = 0;
  constructor(readonly max: number) {}
  /** False once the schema grew past the budget (a $ref fan-out that would explode in size). */
  spend(): boolean {
    this.used++;
    return this.used <= this.max;
  }
}

export class SchemaTooLargeError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A plain JSON copy of a value that is not a schema (`enum`, `default`, `const`). */
function plain(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * An OpenAPI schema (dereferenced, possibly cyclic, OpenAPI 3.0 dialect or JSON Schema 2020-12)
 * as a self-contained JSON Schema for argument checks and for the model: `nullable` becomes a
 * `null` type, OpenAPI-only keywords and unknown formats are dropped, cycles and unresolved
 * `$ref`s become `{}` (any value). Throws SchemaTooLargeError past the budget.
 */
export function toJsonSchema(
  input: unknown,
  budget: SchemaBudget,
  ancestors: Set<object> = new Set(),
): JsonSchema {
  if (!budget.spend()) throw new SchemaTooLargeError('schema too large');
  if (!isObject(input)) return {};
  if (ancestors.has(input) || ancestors.size >= MAX_SCHEMA_DEPTH || '$ref' in input) return {};
  ancestors.add(input);
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(input)) {
    if (DROPPED.has(key) || key.startsWith('x-')) continue;
    if (key === 'format') {
      if (typeof value === 'string' && KNOWN_FORMATS.has(value)) out.format = value;
    } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      const map: Record<string, JsonSchema> = {};
      for (const [k, v] of Object.entries(value)) map[k] = toJsonSchema(v, budget, ancestors);
      out[key] = map;
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((v) => toJsonSchema(v, budget, ancestors));
    } else if (SCHEMA_ONE.has(key)) {
      if (typeof value === 'boolean') out[key] = value;
      else if (Array.isArray(value))
        out[key] = value.map((v) => toJsonSchema(v, budget, ancestors));
      else out[key] = toJsonSchema(value, budget, ancestors);
    } else {
      const copy = plain(value);
      if (copy !== undefined) out[key] = copy;
    }
  }
  ancestors.delete(input);
  // OpenAPI 3.0 and Swagger 2.0 write exclusive bounds as draft-04 booleans; JSON Schema as numbers.
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof out[flag] !== 'boolean') continue;
    if (out[flag] === true && typeof out[bound] === 'number') {
      out[flag] = out[bound];
      delete out[bound];
    } else delete out[flag];
  }
  if (input.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  return out;
}

/** The console's `inputs[].type`: integer -> int, number -> float, boolean -> bool, else str. */
export function pythonTypeOf(schema: JsonSchema): 'str' | 'int' | 'float' | 'bool' {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const t = types.find((x) => typeof x === 'string' && x !== 'null');
  if (t === 'integer') return 'int';
  if (t === 'number') return 'float';
  if (t === 'boolean') return 'bool';
  return 'str';
}

/** The JSON Schema type of an LLMOps-format parameter type. */
export const LLMOPS_TYPES: Record<string, string> = {
  str: 'string',
  int: 'integer',
  float: 'number',
  bool: 'boolean',
};
