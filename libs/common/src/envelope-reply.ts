import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  StreamableFile,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { RAW_RESPONSE_KEY, SUCCESS_MESSAGE_KEY } from './decorators';
import { envelope, isEnvelope, ok } from './envelope';
import { routeMemo } from './route-memo';

/** On a request whose answer is enveloped: the route's success message ('' for none). */
const ROUTE_MESSAGE = Symbol('llmops:route-message');

type MarkedRequest = Request & { [ROUTE_MESSAGE]?: string };

/**
 * A handler's result as the console reads it: `{code: "success", message, data}`, `message` being
 * the route's success message (ConsolePost) unless the handler returned an envelope with one of
 * its own; an envelope the handler built is kept, `undefined` becomes `data: {}`.
 */
export function enveloped(value: unknown, message: string): unknown {
  if (!isEnvelope(value)) return ok(value ?? {}, message);
  return value.message || !message ? value : envelope(value.code, message, value.data);
}

/**
 * Never refuses: notes on each HTTP request whether its route's answer is enveloped (not a
 * @RawResponse() route) and with which success message, read from the route's decorators once.
 * `EnvelopeExpressAdapter` wraps the handler's result when it sends it.
 *
 * This replaced a global interceptor that did the same in an rxjs `map`: any interceptor puts
 * every request through Nest's Observable chain (defer, mergeAll, lastValueFrom), which cost
 * about a sixth of the CPU of an authenticated GET answered from caches (bench/http-overhead).
 */
@Injectable()
export class RouteEnvelopeGuard implements CanActivate {
  /** Per route: the success message, or null for a raw route. */
  private readonly routeMessage = routeMemo((handler, cls) => {
    if (this.reflector.getAllAndOverride<boolean>(RAW_RESPONSE_KEY, [handler, cls])) return null;
    return this.reflector.get<string | undefined>(SUCCESS_MESSAGE_KEY, handler) ?? '';
  });

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const message = this.routeMessage(context);
    if (message !== null)
      context.switchToHttp().getRequest<MarkedRequest>()[ROUTE_MESSAGE] = message;
    return true;
  }
}

/**
 * Nest's Express adapter, enveloping what a handler returns on the routes `RouteEnvelopeGuard`
 * marked. Handlers' results pass through `reply` (errors are answered by the exception filter,
 * streams and @Res() routes write themselves); files (StreamableFile) and error statuses go out
 * as they are.
 * Every Nest application serving HTTP is created with it (main.ts, the e2e app factory);
 * `configureApp` refuses another adapter.
 */
export class EnvelopeExpressAdapter extends ExpressAdapter {
  override reply(response: Response, body: unknown, statusCode?: number): unknown {
    const message = (response.req as MarkedRequest | undefined)?.[ROUTE_MESSAGE];
    const wrap =
      message !== undefined &&
      !(body instanceof StreamableFile) &&
      // Nest's own exception filter also replies through here: an error is never a success.
      (statusCode === undefined || statusCode < 400);
    return super.reply(response, wrap ? enveloped(body, message) : body, statusCode);
  }
}
