import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import type { Metrics } from '../metrics';

const CLOSE_GRACE_MS = 2_000;

/** The port is taken, or may not be bound: start-up fails saying which. */
export class PortUnavailableError extends Error {
  constructor(port: number, cause: NodeJS.ErrnoException) {
    super(
      cause.code === 'EADDRINUSE'
        ? `port ${port} is already in use: stop what listens there, or set PORT to another port`
        : `cannot listen on port ${port}: ${cause.message}`,
      { cause },
    );
    this.name = 'PortUnavailableError';
  }
}

/**
 * Serves the app on `port` and counts its open connections. Resolves once listening; rejects with
 * the port named when it cannot be had (Express 5's own listen() calls back even on an error).
 */
export function listen(app: Express, port: number, metrics: Pick<Metrics, 'activeConnections'>): Promise<Server> {
  const server = createServer(app);
  server.on('connection', (socket) => {
    metrics.activeConnections.inc();
    socket.once('close', () => metrics.activeConnections.dec());
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new PortUnavailableError(port, error)));
    server.listen(port, () => resolve(server));
  });
}

/** Stops taking connections, closes the idle ones, and cuts the rest (live-update streams) after a grace period. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });
}
