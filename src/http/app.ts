import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import rateLimit from 'express-rate-limit';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import type { WalletConfig } from '../config';
import type { LiveEntryHub } from '../live-updates/live-entry-hub';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { authenticate } from './authentication';
import { errorBody, errorHandler, notFound } from './errors';
import { registerHealthRoutes, type ReadinessCheck } from './health';
import { createOpenApiDocument } from './openapi';
import { requestLog, routeOf } from './request-log';
import { registerLiveUpdatesRoute, type LiveUpdateReads } from './live-updates-route';
import { registerStatementRoute, type StatementReads } from './statement-route';
import { registerWalletRoutes, type WalletReads } from './wallet-routes';

const MAX_BODY = '16kb';
const TEMPORAL_METRICS_TIMEOUT_MS = 2_000;

export interface HttpDependencies {
  config: WalletConfig;
  logger: Logger;
  metrics: Metrics;
  /** The Temporal SDK's own exporter, whose figures /metrics serves beside the service's. */
  temporalMetricsUrl?: string;
  readinessChecks: Record<string, ReadinessCheck>;
  /** The ledger's reads; until the database is connected they throw ServiceStartingError (503). */
  reads: WalletReads & StatementReads & LiveUpdateReads;
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
  app.use(requestLog(logger));
  app.use(helmet());

  registerHealthRoutes(app, deps.readinessChecks, logger);
  app.get('/metrics', async (_req, res) => {
    const [own, temporal] = await Promise.all([metrics.registry.metrics(), temporalMetrics(deps.temporalMetricsUrl, logger)]);
    res.type(metrics.registry.contentType).send(own + temporal);
  });
  const openApiDocument = createOpenApiDocument(config);
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

  const { reads } = deps;
  const authenticated = authenticate(config.auth);
  registerWalletRoutes(app, reads, authenticated);
  registerStatementRoute(app, reads, authenticated, config.statement);
  registerLiveUpdatesRoute(app, reads, deps.liveUpdates, authenticated, config.liveUpdates);

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

/** The SDK's figures, or none for this scrape when its exporter does not answer in time. */
async function temporalMetrics(url: string | undefined, logger: Logger): Promise<string> {
  if (!url) return '';
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TEMPORAL_METRICS_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`answered ${response.status}`);
    return `\n${await response.text()}`;
  } catch (error) {
    logger.warn({ err: error }, 'Temporal SDK metrics not read');
    return '';
  }
}

function recordHttpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(req, res);
      const status = String(res.statusCode);
      metrics.httpRequestDuration.observe({ method: req.method, route, status }, seconds);
      metrics.platformHttpRequestDuration.observe({ method: req.method, route, status_code: status }, seconds);
      metrics.platformHttpRequests.inc({ method: req.method, route, status_code: status });
    });
    next();
  };
}
