import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { NotFoundError, ValidateError } from './api.exception';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID of any version: the only shape a row id (or a session id) can have. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Route params that hold a row id: `id` and `*_id` (`app_id`, `api_key_id`, ...). */
export function isIdParam(name: string): boolean {
  return name === 'id' || name.endsWith('_id');
}

const ACRONYMS: Record<string, string> = { api: 'API', ai: 'AI', llm: 'LLM', gpu: 'GPU' };

/** `api_key_id` -> "The API key does not exist", as the services word it. */
export function missingMessage(name: string): string {
  const words = name
    .replace(/_?id$/, '')
    .split('_')
    .filter(Boolean)
    .map((w) => ACRONYMS[w] ?? w);
  return `The ${words.length ? words.join(' ') : 'resource'} does not exist`;
}

/**
 * Global pipe for route params: an id that is not a UUID cannot name a row, so it answers
 * not_found without a query (PostgreSQL would fail on the cast); NUL characters answer
 * validate_error. Names such as `provider_name` or `token` are left alone.
 */
@Injectable()
export class RouteParamsPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'param') return value;
    if (metadata.data) this.check(metadata.data, value);
    else if (value && typeof value === 'object')
      for (const [name, v] of Object.entries(value)) this.check(name, v);
    return value;
  }

  private check(name: string, value: unknown): void {
    if (typeof value !== 'string') return;
    if (value.includes('\u0000')) {
      const message = `${name} must not contain NUL characters`;
      throw new ValidateError({ [name]: [message] }, message);
    }
    if (isIdParam(name) && !isUuid(value)) throw new NotFoundError(missingMessage(name));
  }
}
