import { ArgumentMetadata, Type, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { ValidateError } from './api.exception';

/** class-transformer's metadata (nested `@Type`s, `@Expose` renames); not in its typed exports. */
interface TransformerStorage {
  findTypeMetadata(target: Type, property: string): { typeFunction: () => unknown } | undefined;
  getExposedMetadatas(target: Type): unknown[];
}
/* eslint-disable @typescript-eslint/no-require-imports -- the module has no typings of its own */
const { defaultMetadataStorage: transformerStorage } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: TransformerStorage;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The properties whitelisting keeps (those with validation metadata), per DTO class. */
const allowedCache = new WeakMap<Type, Set<string> | null>();

function allowedProperties(cls: Type): Set<string> | null {
  let allowed = allowedCache.get(cls);
  if (allowed === undefined) {
    // The same lookup class-validator's whitelist makes (no groups, `always` off). A class with no
    // rules, or with @Expose renames (plain keys differ from properties), is left alone.
    const rules = getMetadataStorage().getTargetValidationMetadatas(cls, '', false, false);
    allowed =
      rules.length && !transformerStorage.getExposedMetadatas(cls).length
        ? new Set(rules.map((r) => r.propertyName))
        : null;
    allowedCache.set(cls, allowed);
  }
  return allowed;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Drops what whitelisting would drop, before class-transformer copies it: the transformer walks
 * every nested value (and de-duplicates keys in quadratic time), so unknown junk, however
 * deep, would cost far more than the request it rides on. Nested DTOs (`@Type`) are pruned too.
 */
export function pruneUnknown(value: unknown, cls: Type, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => pruneUnknown(v, cls, depth));
  const allowed = isPlainObject(value) && depth < 64 ? allowedProperties(cls) : null;
  if (!allowed) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as object)) {
    if (!allowed.has(key)) continue;
    const v = (value as Record<string, unknown>)[key];
    const nested = transformerStorage.findTypeMetadata(cls, key)?.typeFunction();
    out[key] = typeof nested === 'function' ? pruneUnknown(v, nested as Type, depth + 1) : v;
  }
  return out;
}

/** The global ValidationPipe, pruning unknown fields before transforming. */
class PruningValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const cls = metadata.metatype;
    if (cls && metadata.type !== 'custom' && isPlainObject(value)) value = pruneUnknown(value, cls);
    return super.transform(value, metadata);
  }
}

/** Flattens class-validator's tree into `{ "a.b": ["message", ...] }`. */
export function flattenValidationErrors(
  errors: ValidationError[],
  prefix = '',
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) out[path] = Object.values(error.constraints);
    if (error.children?.length) Object.assign(out, flattenValidationErrors(error.children, path));
  }
  return out;
}

/**
 * The global pipe: strips unknown fields (whitelist), converts query strings to declared types
 * (transform), and answers `validate_error` with the first message and a field map.
 */
export function createValidationPipe(): ValidationPipe {
  return new PruningValidationPipe({
    whitelist: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => new ValidateError(flattenValidationErrors(errors)),
  });
}
