import { requestShapeMiddleware, ShapeLimits } from '@app/common';
import type { AppConfig } from '@app/config';
import { json, RequestHandler, Router, urlencoded } from 'express';

/**
 * POST routes whose bodies may exceed BODY_LIMIT, up to BODY_LIMIT_LARGE (Express path syntax,
 * e.g. `/workflows/:workflow_id/draft-graph`). Every other route keeps the small limit, so a big
 * body costs an attacker a 413 after BODY_LIMIT bytes.
 */
export const LARGE_BODY_ROUTES: readonly string[] = [
  // API tool documents may be up to 1 MB of text, more once JSON-escaped in the body.
  '/api-tools',
  '/api-tools/validate-openapi-schema',
  '/api-tools/:provider_id',
  // A draft graph with many nodes, prompts and code.
  '/workflows/:workflow_id/draft-graph',
  // OpenAI clients batch up to 2048 texts (LangChain sends 1000 at a time), and send whole chat
  // histories: both are checked against their own limits once parsed.
  '/v1/embeddings',
  '/v1/chat/completions',
];

export interface BodyParserOptions {
  limit: string;
  largeLimit: string;
  largeRoutes: readonly string[];
  shape: ShapeLimits;
}

export function bodyOptionsOf(config: AppConfig): BodyParserOptions {
  const env = config.env;
  return {
    limit: env.BODY_LIMIT,
    largeLimit: env.BODY_LIMIT_LARGE,
    largeRoutes: LARGE_BODY_ROUTES,
    shape: {
      maxDepth: env.JSON_MAX_DEPTH,
      maxKeysPerObject: env.JSON_MAX_KEYS_PER_OBJECT,
      maxItems: env.JSON_MAX_ITEMS,
      maxStringLength: env.JSON_MAX_STRING_LENGTH,
    },
  };
}

/**
 * JSON and form bodies, then the shape check of body and query, for every route. A body parser
 * skips a request whose body another already parsed, so the large-route parser runs first.
 */
export function bodyParsers(opts: BodyParserOptions): RequestHandler {
  const router = Router();
  if (opts.largeRoutes.length) {
    router.post([...opts.largeRoutes], json({ limit: opts.largeLimit }));
  }
  router.use(json({ limit: opts.limit }));
  router.use(urlencoded({ limit: opts.limit, extended: false }));
  router.use(requestShapeMiddleware(opts.shape));
  return (req, res, next) => {
    // Nothing to parse or check (most GETs): no body, as the parsers would find first (neither
    // Transfer-Encoding nor Content-Length), and no query string. Skips the router's dispatch.
    if (
      req.headers['transfer-encoding'] === undefined &&
      req.headers['content-length'] === undefined &&
      !req.url.includes('?')
    ) {
      return next();
    }
    router(req, res, next);
  };
}
