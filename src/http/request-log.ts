import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const UNLOGGED = new Set(['/health', '/metrics']);

/** The route template a request matched, never the raw URL (log lines and metric labels stay few and free of ids). */
export function routeOf(req: IncomingMessage, res: ServerResponse): string {
  const template = ((req as Request).route as { path?: unknown } | undefined)?.path;
  if (typeof template === 'string') return template;
  return res.statusCode === 404 ? 'unmatched' : 'middleware';
}

/**
 * One line per request with what an operator needs: request id, method, URL, route, status, time
 * and the authenticated user. Never headers: they carry the access token, as a cookie or a bearer
 * header, and would make each line kilobytes long.
 */
export function requestLog(logger: Logger): RequestHandler {
  const outcome = (req: IncomingMessage, res: ServerResponse, value: { responseTime?: number; err?: unknown }) => ({
    route: routeOf(req, res),
    status: res.statusCode,
    responseTime: value.responseTime,
    user: (res as Response).locals?.userId,
    ...(value.err !== undefined && res.statusCode >= 500 ? { err: value.err } : {}),
  });
  return pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    autoLogging: { ignore: (req) => UNLOGGED.has(req.url ?? '') },
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
    },
    customSuccessObject: outcome,
    customErrorObject: (req, res, err, value: { responseTime?: number }) => outcome(req, res, { ...value, err }),
  });
}
