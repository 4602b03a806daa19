import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('LLMOps API')
    .setDescription(
      'Console API (JWT; every answer is HTTP 200 with `{code, message, data}` — read `code`), ' +
        'service API under /openapi (API keys; real HTTP statuses) and OpenAI-compatible /v1.',
    )
    .setVersion('1.0')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'Access token from /auth/password-login',
      },
      'jwt',
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description:
          'API key `llmops-v1/...` for /openapi and /v1. Each key may make API_KEY_THROTTLE_LIMIT requests per THROTTLE_TTL_SECONDS window (1200 per 60 s by default), from all addresses together: above it the answer is 429 with Retry-After (headers X-RateLimit-Limit-api-key and X-RateLimit-Remaining-api-key count down).',
      },
      'api-key',
    )
    .build();
  return SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey, methodKey) =>
      `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
}

/** Swagger UI at /docs, the OpenAPI 3 document at /docs-json. */
export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    raw: ['json'],
  });
}
