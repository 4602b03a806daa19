import type { CatalogModel } from 'src/modules/model/catalog/catalog.schema';
import type { ParameterValue } from './app-config.types';

type Parameter = CatalogModel['parameters'][number];

function fits(p: Parameter, v: unknown): v is ParameterValue {
  switch (p.type) {
    case 'float':
      // Any JSON number: sliders send 0 and 1 as integers.
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
      break;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return false;
      break;
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      if (typeof v !== 'string') return false;
      break;
  }
  if (typeof v === 'number') {
    if (p.min !== null && v < p.min) return false;
    if (p.max !== null && v > p.max) return false;
  }
  return !p.options.length || p.options.some((o) => o.value === v);
}

/**
 * An app's model parameters, coerced leniently as the original did (CONSOLE-SHAPES §4.4): every
 * parameter of the model, the given value when it has the right type and range (and is one of
 * the options), else the model's default; unknown names are dropped, and a parameter with
 * neither a value nor a default is left out.
 */
export function coerceParameters(
  model: CatalogModel,
  given: Record<string, unknown> | null | undefined,
): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  for (const p of model.parameters) {
    const v = given?.[p.name];
    if (v !== undefined && v !== null && fits(p, v)) out[p.name] = v;
    else if (p.default !== null) out[p.name] = p.default;
  }
  return out;
}
