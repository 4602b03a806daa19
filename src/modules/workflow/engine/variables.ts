import type { Variable, VariableType } from '../graph/graph.types';

/** A value that cannot be read as the variable's type. */
export class CoercionError extends Error {}

/** A value as text: strings as they are, null and undefined empty, objects and arrays as JSON. */
export function toText(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'boolean':
    case 'bigint':
      return v.toString();
    case 'object':
      return v === null ? '' : JSON.stringify(v);
    default:
      return '';
  }
}

/** What a missing optional input becomes (CONSOLE-SHAPES §3.4: `""`, 0, 0, false). */
export function typeDefault(type: VariableType): unknown {
  switch (type) {
    case 'int':
    case 'float':
      return 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return '';
  }
}

const describe = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function parseJson(v: string, type: VariableType): unknown {
  try {
    return JSON.parse(v);
  } catch {
    throw new CoercionError(`${describe(v)} is not ${type === 'array' ? 'an array' : 'an object'}`);
  }
}

/**
 * Reads `value` as `type`. Null and undefined stay null (a ref to a skipped node). Strings from
 * form fields become numbers and booleans; anything becomes a string (objects as JSON).
 */
export function coerce(value: unknown, type: VariableType): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value;
      return toText(value);
    case 'int':
    case 'float': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && value.trim() !== ''
            ? Number(value)
            : typeof value === 'boolean'
              ? Number(value)
              : NaN;
      if (!Number.isFinite(n)) throw new CoercionError(`${describe(value)} is not a number`);
      if (type === 'float') return n;
      if (!Number.isInteger(n)) throw new CoercionError(`${describe(value)} is not an integer`);
      return n;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 1 || value === '1') return true;
      if (value === 'false' || value === 0 || value === '0' || value === '') return false;
      throw new CoercionError(`${describe(value)} is not a boolean`);
    case 'array': {
      const v = typeof value === 'string' ? parseJson(value, type) : value;
      if (!Array.isArray(v)) throw new CoercionError(`${describe(value)} is not an array`);
      return v;
    }
    case 'object': {
      const v = typeof value === 'string' ? parseJson(value, type) : value;
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new CoercionError(`${describe(value)} is not an object`);
      return v;
    }
    default:
      return value;
  }
}

/** Where a ref's value comes from: a finished node's outputs (start: its coerced inputs). */
export type OutputLookup = (nodeId: string) => Record<string, unknown> | undefined;

/** Resolves literal and ref values of `vars`, coerced to each variable's type. */
export function resolveVariables(vars: Variable[], lookup: OutputLookup): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of vars) {
    const raw =
      v.value.type === 'ref'
        ? lookup(v.value.content.ref_node_id ?? '')?.[v.value.content.ref_var_name]
        : v.value.type === 'literal'
          ? v.value.content
          : undefined;
    try {
      out[v.name] = coerce(raw, v.type);
    } catch (e) {
      throw new CoercionError(`input "${v.name}" (${v.type}): ${(e as Error).message}`);
    }
  }
  return out;
}
