import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { map, Observable } from 'rxjs';
import { RAW_RESPONSE_KEY, SUCCESS_MESSAGE_KEY } from './decorators';
import { envelope, isEnvelope, ok } from './envelope';
import { routeMemo } from './route-memo';

/**
 * Wraps handler results in `{code: "success", message, data}` unless they opt out; `message` is
 * the route's success message (ConsolePost) unless the handler returned an envelope of its own.
 */
@Injectable()
export class EnvelopeInterceptor implements NestInterceptor {
  /** Per route: null when it answers raw, else its success message. */
  private readonly routeMessage = routeMemo((handler, cls) => {
    if (this.reflector.getAllAndOverride<boolean>(RAW_RESPONSE_KEY, [handler, cls])) return null;
    return this.reflector.get<string | undefined>(SUCCESS_MESSAGE_KEY, handler) ?? '';
  });

  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const message = this.routeMessage(context);
    if (message === null) return next.handle();
    return next.handle().pipe(
      map((value) => {
        if (!isEnvelope(value)) return ok(value ?? {}, message);
        return value.message || !message ? value : envelope(value.code, message, value.data);
      }),
    );
  }
}
