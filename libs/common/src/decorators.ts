import { applyDecorators, HttpCode, Post, SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'llmops:public';
export const RAW_RESPONSE_KEY = 'llmops:raw-response';

/** The route needs no access token (login, register, icons, web apps, /ping). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/** The handler's return value is sent as is, without the envelope (/v1, probes, metrics). */
export const RawResponse = (): MethodDecorator & ClassDecorator =>
  SetMetadata(RAW_RESPONSE_KEY, true);

/**
 * A console POST: HTTP 200 like every console answer (Nest defaults POST to 201, which the
 * original console's upload client treats as a failure).
 */
export const ConsolePost = (path?: string | string[]): MethodDecorator =>
  applyDecorators(Post(path), HttpCode(200));
