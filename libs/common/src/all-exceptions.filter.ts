import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiException } from './api.exception';
import { apiFamilyOf, ResponseCode } from './envelope';
import { safeError } from './log-safety';
import { assignRequestId } from './request-id';

interface Mapped {
  code: ResponseCode;
  message: string;
  data: unknown;
  /** Real status, used by the service and OpenAI families. */
  status: number;
  /** Statuses the console API also sends (router 404, 413, 429). */
  transport?: number;
}

const GENERIC_MESSAGE = 'Internal server error, please try again later';

/** A body over BODY_LIMIT, whether Nest or the raw body parser reported it. */
const TOO_LARGE: Mapped = {
  code: ResponseCode.FAIL,
  message: 'Request body is too large',
  data: {},
  status: 413,
  transport: 413,
};

function codeForStatus(status: number): ResponseCode {
  if (status === 400 || status === 422) return ResponseCode.VALIDATE_ERROR;
  if (status === 401) return ResponseCode.UNAUTHORIZED;
  if (status === 403) return ResponseCode.FORBIDDEN;
  if (status === 404) return ResponseCode.NOT_FOUND;
  return ResponseCode.FAIL;
}

function messageOf(response: string | object, fallback: string): string {
  if (typeof response === 'string') return response;
  const m = (response as { message?: unknown }).message;
  if (Array.isArray(m)) return String(m[0] ?? fallback);
  return typeof m === 'string' ? m : fallback;
}

const OPENAI_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

/**
 * Maps every error to the contract's shapes. Unknown errors are logged with their stack and
 * answered with a generic message plus the request id; nothing internal leaks.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const requestId = assignRequestId(req, res);
    const mapped = this.map(exception, req, requestId);

    if (res.headersSent) {
      // A stream already started (SSE): its own error event was the answer; just end it.
      if (!res.writableEnded) res.end();
      return;
    }
    const family = apiFamilyOf(req.path);
    if (family === 'raw' && exception instanceof HttpException) {
      // Probes answer their own body (terminus reports which check is down) with the real status.
      res.status(exception.getStatus()).json(exception.getResponse());
      return;
    }
    if (family === 'openai') {
      // OpenAI answers a bad parameter with 400 and names it in `param`; SDKs map 400 to
      // BadRequestError (422 would be an unexpected UnprocessableEntityError).
      const invalid = mapped.code === ResponseCode.VALIDATE_ERROR;
      const status = mapped.transport ?? (invalid ? 400 : mapped.status);
      const fields = invalid && mapped.data && typeof mapped.data === 'object' ? mapped.data : {};
      res.status(status).json({
        error: {
          message: mapped.message,
          type: OPENAI_TYPE[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
          code: mapped.code === ResponseCode.FAIL ? null : mapped.code,
          param: Object.keys(fields)[0] ?? null,
        },
      });
      return;
    }
    const status =
      family === 'console'
        ? (mapped.transport ?? HttpStatus.OK)
        : (mapped.transport ?? mapped.status);
    res.status(status).json({ code: mapped.code, message: mapped.message, data: mapped.data });
  }

  private map(exception: unknown, req: Request, requestId: string): Mapped {
    if (exception instanceof ApiException) {
      return {
        code: exception.code,
        message: exception.message,
        data: exception.data,
        status: exception.status,
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      // Express sets req.route only when a route matched: no route means the path does not exist.
      if (status === 404 && !req.route) {
        return {
          code: ResponseCode.NOT_FOUND,
          message: `Route ${req.method} ${req.path} does not exist`,
          data: {},
          status: 404,
          transport: 404,
        };
      }
      if (status === 413) return TOO_LARGE;
      if (status === 429) {
        return {
          code: ResponseCode.FAIL,
          message: messageOf(response, 'Too many requests, slow down'),
          data: {},
          status,
          transport: 429,
        };
      }
      if (status >= 500) return this.unknown(exception, req, requestId);
      // Nest wraps body-parser's JSON SyntaxError in a BadRequestException.
      if ((exception.cause as { type?: string } | undefined)?.type === 'entity.parse.failed') {
        return {
          code: ResponseCode.VALIDATE_ERROR,
          message: 'Request body is not valid JSON',
          data: {},
          status: 422,
        };
      }
      const code = codeForStatus(status);
      const message = messageOf(response, exception.message);
      return { code, message, data: {}, status: status === 400 ? 422 : status };
    }
    // Errors raised by Express middleware (body parser, through http-errors) carry `status` and
    // `expose: true`; an SDK's error with a `status` (a provider's 401 or 429) is not the
    // client's bad request and goes to `unknown`.
    const e = exception as {
      status?: number;
      statusCode?: number;
      type?: string;
      expose?: boolean;
      message?: string;
    };
    const status = e?.status ?? e?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500 && e.expose === true) {
      if (status === 413) return TOO_LARGE;
      const message =
        e.type === 'entity.parse.failed'
          ? 'Request body is not valid JSON'
          : (e.message ?? 'Bad request');
      return {
        code: ResponseCode.VALIDATE_ERROR,
        message,
        data: {},
        status: status === 400 ? 422 : status,
      };
    }
    return this.unknown(exception, req, requestId);
  }

  private unknown(exception: unknown, req: Request, requestId: string): Mapped {
    // Only the error's type, code, message and stack: never SQL parameters or driver detail.
    const err = safeError(exception);
    this.logger.error(
      { err, request_id: requestId, method: req.method, path: req.path },
      `Unhandled error on ${req.method} ${req.path}: ${err.message}`,
    );
    return {
      code: ResponseCode.FAIL,
      message: GENERIC_MESSAGE,
      data: { request_id: requestId },
      status: 500,
    };
  }
}
