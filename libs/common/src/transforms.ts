import { Transform } from 'class-transformer';

/** Query booleans arrive as the strings "true"/"false" (the console sends them so). */
export function ToBoolean(): PropertyDecorator {
  return Transform(({ value }) => {
    if (value === true || value === 'true' || value === '1' || value === 1) return true;
    if (value === false || value === 'false' || value === '0' || value === 0) return false;
    return value; // leave anything else for @IsBoolean to reject with a clear message
  });
}

/** Query numbers arrive as strings; an empty string means absent. */
export function ToInt(): PropertyDecorator {
  return Transform(({ value }) => {
    if (value === '' || value === undefined || value === null) return undefined;
    if (typeof value === 'number') return value;
    return /^-?\d+$/.test(String(value).trim()) ? Number(value) : value;
  });
}

/** Trims strings; an empty result means absent. */
export function TrimToUndefined(): PropertyDecorator {
  return Transform(({ value }) => {
    if (typeof value !== 'string') return value;
    const t = value.trim();
    return t === '' ? undefined : t;
  });
}

/**
 * Express query parser: flat `key=value` pairs, repeated keys become arrays, and empty values are
 * dropped (the console sends empty filters as empty strings, which mean "absent").
 */
export function parseQueryString(qs: string): Record<string, string | string[]> {
  // Most requests have no query string: no URLSearchParams for them.
  if (!qs) return {};
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of new URLSearchParams(qs)) {
    if (value === '' || key === '__proto__' || key === 'constructor') continue;
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else out[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return { ...out };
}
