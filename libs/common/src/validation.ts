import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateError } from './api.exception';

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
  return new ValidationPipe({
    whitelist: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => new ValidateError(flattenValidationErrors(errors)),
  });
}
