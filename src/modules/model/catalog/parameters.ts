import { ValidateError } from '@app/common';
import type { CatalogModel, ModelParameter, Pricing } from './catalog.schema';

export type ParameterValues = Record<string, string | number | boolean>;

function check(p: ModelParameter, value: unknown): string | undefined {
  switch (p.type) {
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${p.name} must be a number`;
      break;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value))
        return `${p.name} must be an integer`;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return `${p.name} must be true or false`;
      return undefined;
    case 'string':
      if (typeof value !== 'string') return `${p.name} must be a string`;
      break;
  }
  if (typeof value === 'number') {
    if (p.min !== null && value < p.min) return `${p.name} must be at least ${p.min}`;
    if (p.max !== null && value > p.max) return `${p.name} must be at most ${p.max}`;
  }
  if (p.options.length && !p.options.some((o) => o.value === value)) {
    return `${p.name} must be one of ${p.options.map((o) => JSON.stringify(o.value)).join(', ')}`;
  }
  return undefined;
}

/**
 * Checks call parameters against the catalog: unknown names, wrong types, out-of-range values
 * and missing required ones answer `validate_error` naming the field; absent ones get defaults.
 */
export function validateParameters(
  model: CatalogModel,
  input: Record<string, unknown> | undefined | null,
): ParameterValues {
  const errors: Record<string, string[]> = {};
  const out: ParameterValues = {};
  const given = input ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new ValidateError({ parameters: ['parameters must be an object'] });
  }
  for (const name of Object.keys(given)) {
    if (!model.parameters.some((p) => p.name === name)) {
      errors[`parameters.${name}`] = [
        `${name} is not a parameter of ${model.provider}/${model.model_name}`,
      ];
    }
  }
  for (const p of model.parameters) {
    const value = given[p.name];
    if (value === undefined || value === null) {
      if (p.required && p.default === null)
        errors[`parameters.${p.name}`] = [`${p.name} is required`];
      else if (p.default !== null) out[p.name] = p.default;
      continue;
    }
    const problem = check(p, value);
    if (problem) errors[`parameters.${p.name}`] = [problem];
    else out[p.name] = value as string | number | boolean;
  }
  if (Object.keys(errors).length) throw new ValidateError(errors);
  return out;
}

/**
 * The forgiving variant for stored configurations (an app saved before a catalog change):
 * unknown and invalid values are dropped and replaced by defaults instead of failing.
 */
export function normalizeParameters(
  model: CatalogModel,
  input: Record<string, unknown> | undefined | null,
): ParameterValues {
  const out: ParameterValues = {};
  for (const p of model.parameters) {
    const value = input?.[p.name];
    if (value !== undefined && value !== null && !check(p, value))
      out[p.name] = value as string | number | boolean;
    else if (p.default !== null) out[p.name] = p.default;
  }
  return out;
}

/** Price of one call, rounded to 8 decimals. */
export function priceOf(pricing: Pricing, promptTokens: number, completionTokens: number): number {
  const raw = (promptTokens * pricing.input + completionTokens * pricing.output) / pricing.unit;
  return Math.round(raw * 1e8) / 1e8;
}
