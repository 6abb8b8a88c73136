import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import rateLimit from 'express-rate-limit';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import swaggerUi from 'swagger-ui-express';
import type { WalletConfig } from '../config';
import type { WalletReader } from '../ledger/wallet-reader';
import type { LiveEntryHub } from '../live-updates/live-entry-hub';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { authenticate } from './authentication';
import { errorHandler, notFound } from './error-handler';
import { registerHealthRoutes, type ReadinessCheck } from './health';
import { errorBody, ServiceStartingError } from './http-error';
import { openApiDocument } from './openapi';
import { registerLiveUpdatesRoute, type LiveUpdateReads } from './live-updates-route';
import { registerStatementRoute, type StatementReads } from './statement-route';
import { registerWalletRoutes, type WalletReads } from './wallet-routes';

const MAX_BODY = '16kb';
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface HttpDependencies {
  config: WalletConfig;
  logger: Logger;
  metrics: Metrics;
  readinessChecks: Record<string, ReadinessCheck>;
  /** The wallet reader once the database is connected; until then reads answer 503. */
  walletReader: () => WalletReader | undefined;
  /** This process's live-update connections. */
  liveUpdates: LiveEntryHub;
}

/** The HTTP API: wallet reads for browsers and API clients, plus health, readiness, metrics and docs. */
export function createHttpApp(deps: HttpDependencies): Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Which X-Forwarded-For hops name the client: the rate limit buckets callers by req.ip.
  app.set('trust proxy', config.http.trustProxy);

  app.use(recordHttpMetrics(metrics));
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
      // Headers stay out of the log: they carry the access token, as a cookie or a bearer header.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      },
    }),
  );
  app.use(helmet());

  registerHealthRoutes(app, deps.readinessChecks, logger);
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  // The page loads its assets by relative URL, so it lives under the trailing slash.
  app.get('/api-docs', (req, res, next) => (req.path.endsWith('/') ? next() : res.redirect(301, '/api-docs/')));
  app.use('/api-docs/', swaggerUi.serveFiles(openApiDocument), swaggerUi.setup(openApiDocument));

  app.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.http.rateLimitPerMinute,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: (_req, res) => {
        res.status(429).json(errorBody(429, 'Too many requests'));
      },
    }),
  );
  app.use(cors({ origin: config.http.corsOrigins.length > 0 ? config.http.corsOrigins : false, credentials: true }));
  app.use(express.json({ limit: MAX_BODY }));

  const reads = whenConnected(deps.walletReader);
  const authenticated = authenticate(config.auth);
  registerWalletRoutes(app, reads, authenticated);
  registerStatementRoute(app, reads, authenticated, config.statement);
  registerLiveUpdatesRoute(app, reads, deps.liveUpdates, authenticated, config.liveUpdates);

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

/** Reads answer 503 until the database is connected (the HTTP server starts first). */
function whenConnected(get: () => WalletReader | undefined): WalletReads & StatementReads & LiveUpdateReads {
  const reader = () => {
    const connected = get();
    if (!connected) throw new ServiceStartingError();
    return connected;
  };
  return {
    walletOf: (userId) => reader().walletOf(userId),
    historyOf: (userId, limit, beforeVersion) => reader().historyOf(userId, limit, beforeVersion),
    balanceAt: (userId, at) => reader().balanceAt(userId, at),
    statementOf: (userId, range, reading) => reader().statementOf(userId, range, reading),
    feedPosition: (userId, afterVersion) => reader().feedPosition(userId, afterVersion),
  };
}

function recordHttpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => {
      // The route template, never the raw URL: labels must stay few.
      const template = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof template === 'string' ? template : res.statusCode === 404 ? 'unmatched' : 'middleware';
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
