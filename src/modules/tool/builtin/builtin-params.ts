import type { ToolParam } from './builtin.schema';

export type ParamsCheck =
  { ok: true; params: Record<string, unknown> } | { ok: false; errors: Record<string, string[]> };

const isBlank = (v: unknown) => v === undefined || v === null || v === '';

/**
 * A tool's settings as bound by an app or sent by the test button, checked against the declared
 * params: types, select options, min/max. Unknown keys are dropped (the console sends whole form
 * models); missing ones get their default. Error keys are `params.<name>`.
 */
export function checkParams(declared: readonly ToolParam[], given: unknown): ParamsCheck {
  const input =
    given && typeof given === 'object' && !Array.isArray(given)
      ? (given as Record<string, unknown>)
      : {};
  const params: Record<string, unknown> = {};
  const errors: Record<string, string[]> = {};
  const fail = (name: string, message: string) =>
    (errors[`params.${name}`] ??= []).push(`params.${name} ${message}`);
  for (const p of declared) {
    let v = input[p.name];
    if (isBlank(v)) v = p.default;
    if (isBlank(v)) {
      if (p.required) fail(p.name, 'is required');
      continue;
    }
    switch (p.type) {
      case 'string':
        if (typeof v !== 'string') fail(p.name, 'must be a string');
        break;
      case 'boolean':
        if (typeof v !== 'boolean') fail(p.name, 'must be true or false');
        break;
      case 'number':
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(p.name, 'must be a number');
        else if (p.min !== null && v < p.min) fail(p.name, `must be at least ${p.min}`);
        else if (p.max !== null && v > p.max) fail(p.name, `must be at most ${p.max}`);
        break;
      case 'select':
        if (!p.options.some((o) => o.value === v))
          fail(
            p.name,
            `must be one of ${p.options.map((o) => JSON.stringify(o.value)).join(', ')}`,
          );
        break;
    }
    params[p.name] = v;
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, params };
}
