import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import type { AuthPrincipal } from './access-token';
import { UnauthorizedError } from './api.exception';

export const AUTH_MODE_KEY = 'llmops:auth-mode';
export const ADMIN_ONLY_KEY = 'llmops:admin-only';

/** Where the principal of an authenticated request is kept. */
export interface AuthenticatedRequest {
  principal?: AuthPrincipal;
}

/**
 * The route takes an API key (`Authorization: Bearer llmops-v1/...`) instead of an access token:
 * the service API (/openapi/chat, /v1/*). Access tokens are refused there, keys everywhere else.
 */
export const ApiKeyAuth = (): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(AUTH_MODE_KEY, 'api-key'), ApiBearerAuth('api-key'));

/** Only admins (machine-wide resources: downloads, deployments, system). Others get `forbidden`. */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ONLY_KEY, true);

/** The signed-in principal (account id, role, session); throws unauthorized when absent. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthPrincipal => {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!req.principal) throw new UnauthorizedError();
    return req.principal;
  },
);

/** Shorthand for the signed-in account's id. */
export const CurrentAccount = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): string => {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!req.principal) throw new UnauthorizedError();
    return req.principal.accountId;
  },
);
