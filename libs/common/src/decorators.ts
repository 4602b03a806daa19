import { applyDecorators, HttpCode, Post, SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'llmops:public';
export const RAW_RESPONSE_KEY = 'llmops:raw-response';
export const SUCCESS_MESSAGE_KEY = 'llmops:success-message';

/** The route needs no access token (login, register, icons, web apps, /ping). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/** The handler's return value is sent as is, without the envelope (/v1, probes, metrics). */
export const RawResponse = (): MethodDecorator & ClassDecorator =>
  SetMetadata(RAW_RESPONSE_KEY, true);

/**
 * A console POST: HTTP 200 like every console answer (Nest defaults POST to 201, which the
 * original console's upload client treats as a failure), and the short `message` of its success
 * envelope: the console toasts it after every POST, so an empty one shows a blank toast. A handler
 * may still return its own envelope (`ok(data, msg)`, `okMessage(msg)`) for a dynamic message.
 */
export const ConsolePost = (
  path: string | string[] | undefined,
  message: string,
): MethodDecorator =>
  applyDecorators(Post(path), HttpCode(200), SetMetadata(SUCCESS_MESSAGE_KEY, message));
