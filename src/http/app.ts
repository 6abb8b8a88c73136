import express, { type Express } from 'express';
import type { Metrics } from '../metrics';
import { healthRoutes, type ReadinessCheck } from './health';

export interface HttpDependencies {
  metrics: Metrics;
  readinessChecks: Record<string, ReadinessCheck>;
}

/** The HTTP API: health, readiness and metrics; the wallet read endpoints join it later. */
export function createHttpApp(deps: HttpDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(deps.readinessChecks));
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: { message: 'Not found', status: 404 } });
  });
  return app;
}
