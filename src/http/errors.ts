import type { ErrorRequestHandler, RequestHandler } from 'express';
import { LedgerInvariantError } from '../ledger';
import type { Logger } from '../logger';
import { isDatabaseUnavailable } from '../database/connection';

/** An error with the HTTP status and message a client should see. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A read that came before the database was connected: the HTTP server starts first. */
export class ServiceStartingError extends HttpError {
  constructor() {
    super(503, 'Service starting; retry shortly');
    this.name = 'ServiceStartingError';
  }
}

/** The body of every error response: `{"error":{"message","status"}}`. */
export function errorBody(status: number, message: string) {
  return { error: { message, status } };
}

export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json(errorBody(404, 'Not found'));
};

/**
 * Turns every failure into `{"error":{"message","status"}}`: client mistakes (including bodies the
 * parsers refuse) keep their 4xx, an unreachable dependency is 503, anything else is a 500 whose
 * details go to the log only.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const { status, message } = classify(error);
    if (status >= 500) (req.log ?? logger).error({ err: error }, 'request failed');
    // A stream already under way cannot turn into an error response: cut it off, so that the client
    // sees it fail rather than take what was sent for the whole.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json(errorBody(status, message));
  };
}

function classify(error: unknown): { status: number; message: string } {
  if (error instanceof HttpError) return { status: error.status, message: error.message };
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser and friends: too large, malformed JSON, unsupported charset.
    return { status, message: (error as { expose?: boolean }).expose ? (error as Error).message : 'Bad request' };
  }
  if (isDatabaseUnavailable(error)) return { status: 503, message: 'Service temporarily unavailable' };
  if (error instanceof LedgerInvariantError) return { status: 500, message: 'Ledger inconsistency; operators have been alerted' };
  return { status: 500, message: 'Internal server error' };
}
