import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { map, Observable } from 'rxjs';
import { RAW_RESPONSE_KEY, SUCCESS_MESSAGE_KEY } from './decorators';
import { envelope, isEnvelope, ok } from './envelope';

/**
 * Wraps handler results in `{code: "success", message, data}` unless they opt out; `message` is
 * the route's success message (ConsolePost) unless the handler returned an envelope of its own.
 */
@Injectable()
export class EnvelopeInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const targets = [context.getHandler(), context.getClass()];
    const raw = this.reflector.getAllAndOverride<boolean>(RAW_RESPONSE_KEY, targets);
    if (raw) return next.handle();
    const message = this.reflector.get<string | undefined>(SUCCESS_MESSAGE_KEY, targets[0]) ?? '';
    return next.handle().pipe(
      map((value) => {
        if (!isEnvelope(value)) return ok(value ?? {}, message);
        return value.message || !message ? value : envelope(value.code, message, value.data);
      }),
    );
  }
}
