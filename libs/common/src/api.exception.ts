import { HttpStatus } from '@nestjs/common';
import { ResponseCode } from './envelope';

const DEFAULT_STATUS: Record<ResponseCode, number> = {
  [ResponseCode.SUCCESS]: HttpStatus.OK,
  [ResponseCode.FAIL]: HttpStatus.BAD_REQUEST,
  [ResponseCode.NOT_FOUND]: HttpStatus.NOT_FOUND,
  [ResponseCode.UNAUTHORIZED]: HttpStatus.UNAUTHORIZED,
  [ResponseCode.FORBIDDEN]: HttpStatus.FORBIDDEN,
  [ResponseCode.VALIDATE_ERROR]: HttpStatus.UNPROCESSABLE_ENTITY,
};

/**
 * The one exception modules throw. The global filter maps it to the envelope: HTTP 200 on the
 * console API, `status` on the service API, OpenAI's error object on /v1.
 */
export class ApiException extends Error {
  readonly status: number;

  constructor(
    readonly code: ResponseCode,
    message: string,
    readonly data: unknown = {},
    status?: number,
  ) {
    super(message);
    this.name = 'ApiException';
    this.status = status ?? DEFAULT_STATUS[code];
  }
}

export class FailException extends ApiException {
  constructor(message: string, data: unknown = {}, status: number = HttpStatus.BAD_REQUEST) {
    super(ResponseCode.FAIL, message, data, status);
  }
}
export class NotFoundError extends ApiException {
  constructor(message = 'The resource does not exist', data: unknown = {}) {
    super(ResponseCode.NOT_FOUND, message, data);
  }
}
export class UnauthorizedError extends ApiException {
  constructor(message = 'Not signed in or the session has expired', data: unknown = {}) {
    super(ResponseCode.UNAUTHORIZED, message, data);
  }
}
export class ForbiddenError extends ApiException {
  constructor(message = 'You do not have permission to do this', data: unknown = {}) {
    super(ResponseCode.FORBIDDEN, message, data);
  }
}
export class ValidateError extends ApiException {
  /** `fields` maps a field path to its messages; `message` defaults to the first one. */
  constructor(fields: Record<string, string[]>, message?: string) {
    super(
      ResponseCode.VALIDATE_ERROR,
      message ?? Object.values(fields).flat()[0] ?? 'Invalid request',
      fields,
    );
  }
}
