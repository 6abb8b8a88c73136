import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs, one line per event; never log tokens or cookies. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'wallet-service', ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'token'], censor: '[redacted]' },
  });
}
