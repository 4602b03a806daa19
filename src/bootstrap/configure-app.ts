import {
  assignRequestId,
  EnvelopeExpressAdapter,
  MetricsRegistry,
  parseQueryString,
  REDIS,
  RedisClient,
} from '@app/common';
import { AppConfig } from '@app/config';
import { AppIoAdapter } from '@app/realtime';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { bodyOptionsOf, bodyParsers } from './body-parsers';
import { setupSwagger } from './swagger';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** http(s)://localhost, 127.0.0.1 or [::1], any port: a console dev server on this machine. */
export function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname)
    );
  } catch {
    return false;
  }
}

/**
 * The origin rule shared by HTTP CORS and socket.io: listed origins, or any when `*` is listed.
 * With none listed outside production, loopback origins are allowed, so the console's dev server
 * works with no setup; production allows only what CORS_ORIGINS lists.
 */
export function originMatcher(config: AppConfig): (origin: string | undefined) => boolean {
  const allowed = new Set(config.env.CORS_ORIGINS.map((o) => o.replace(/\/$/, '')));
  const loopback = allowed.size === 0 && !config.isProduction;
  return (origin) =>
    !origin ||
    allowed.has('*') ||
    allowed.has(origin.replace(/\/$/, '')) ||
    (loopback && isLoopbackOrigin(origin));
}

/**
 * Everything about the HTTP surface that is not a route: used by main.ts and by the e2e app
 * factory, so tests exercise exactly what production runs.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  if (!(app.getHttpAdapter() instanceof EnvelopeExpressAdapter)) {
    // Without it, handlers' results would go out without the console's envelope.
    throw new Error('configureApp: create the application with new EnvelopeExpressAdapter()');
  }
  app.useLogger(app.get(Logger));
  app.flushLogs();
  const express = app.getHttpAdapter().getInstance();
  // The console sends empty filters as empty strings; they mean "absent".
  express.set('query parser', parseQueryString);
  express.disable('x-powered-by');
  // No ETag on sent bodies: every JSON answer is `no-store` (below), so no client revalidates it,
  // and hashing each body cost SHA-1 per request. Files (icons, Swagger UI) are streamed and
  // unaffected.
  express.set('etag', false);
  // The correlation id of every answer (pino-http reuses it; it is not mounted when logs are off).
  express.use((req: Request, res: Response, next: NextFunction) => {
    assignRequestId(req, res);
    next();
  });
  // Behind a reverse proxy, req.ip (throttles, login locks, last_login_ip) comes from
  // X-Forwarded-For, read only as far back as the trusted proxies (a hop count or their addresses).
  if (config.env.TRUST_PROXY !== false) express.set('trust proxy', config.env.TRUST_PROXY);

  app.use(
    helmet({
      // Icons and uploaded images are loaded by the console from another origin via <img>.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    }),
  );
  const isAllowed = originMatcher(config);
  app.enableCors({
    origin: (origin, cb) => cb(null, isAllowed(origin) ? (origin ?? true) : false),
    credentials: true,
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: ['X-Request-Id'],
    maxAge: 600,
  });
  // Answers carry tokens, keys and account data: no cache may keep them. Routes that may be
  // cached (icons) set their own header; Swagger UI's assets keep theirs.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/docs')) res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use(bodyParsers(bodyOptionsOf(config)));

  const metrics = app.get(MetricsRegistry);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const end = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      end({
        method: req.method,
        route: route ? `${req.baseUrl}${route}` : 'unmatched',
        status: String(res.statusCode),
      });
    });
    next();
  });

  app.useWebSocketAdapter(
    new AppIoAdapter(app, {
      isOriginAllowed: isAllowed,
      redis: app.get<RedisClient>(REDIS),
      redisPrefix: config.env.REDIS_PREFIX,
    }),
  );
  if (config.env.SWAGGER_ENABLED) setupSwagger(app);
}
