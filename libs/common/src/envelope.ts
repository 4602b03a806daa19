import { ApiProperty } from '@nestjs/swagger';

/** Outcome codes of the console envelope (CONTRACT.md). */
export enum ResponseCode {
  SUCCESS = 'success',
  FAIL = 'fail',
  NOT_FOUND = 'not_found',
  UNAUTHORIZED = 'unauthorized',
  FORBIDDEN = 'forbidden',
  VALIDATE_ERROR = 'validate_error',
}

export interface Envelope<T = unknown> {
  code: ResponseCode;
  message: string;
  data: T;
}

/** Marks a value that is already an envelope so the interceptor leaves it alone. */
const ENVELOPE = Symbol('envelope');

export function envelope<T>(code: ResponseCode, message: string, data: T): Envelope<T> {
  const body: Envelope<T> = { code, message, data };
  Object.defineProperty(body, ENVELOPE, { value: true, enumerable: false });
  return body;
}

export function ok<T>(data: T, message = ''): Envelope<T> {
  return envelope(ResponseCode.SUCCESS, message, data);
}

/** A success with only a message, as the original answers actions (`data: {}`). */
export function okMessage(message: string): Envelope<Record<string, never>> {
  return envelope(ResponseCode.SUCCESS, message, {});
}

export function isEnvelope(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && (value as any)[ENVELOPE] === true;
}

/** Swagger schema of the envelope; `data` is described per route. */
export class EnvelopeDto {
  @ApiProperty({
    enum: ResponseCode,
    description: 'Outcome; the console reads this, not the HTTP status',
  })
  code: ResponseCode;
  @ApiProperty({
    description: 'Human-readable message (first validation message on validate_error)',
  })
  message: string;
  @ApiProperty({ description: 'Payload', type: 'object', additionalProperties: true })
  data: unknown;
}

/** Which wire family a request belongs to; decides statuses and error shapes. */
export type ApiFamily = 'console' | 'service' | 'openai' | 'raw';

export function apiFamilyOf(path: string): ApiFamily {
  if (path.startsWith('/v1/') || path === '/v1') return 'openai';
  if (path.startsWith('/health/') || path === '/metrics') return 'raw';
  // /openapi/api-keys is managed from the console with a JWT: console conventions.
  if (path.startsWith('/openapi/') && !path.startsWith('/openapi/api-keys')) return 'service';
  return 'console';
}
