import type { Express } from 'express';
import type { Logger } from '../logger';

/** Resolves when the dependency answers, rejects with the reason otherwise. */
export type ReadinessCheck = () => Promise<void>;

type CheckResult = 'up' | 'down';

const CHECK_TIMEOUT_MS = 2_000;
const MAX_LOGGED_REASON_CHARS = 500;

/**
 * `/health` for liveness, `/ready` for readiness. `/ready` names the dependency that is down but not
 * why: error texts can carry hosts and credentialed URLs, so the reason goes to the log only.
 */
export function registerHealthRoutes(app: Express, checks: Record<string, ReadinessCheck>, logger: Logger): void {
  const report = readinessReporter(logger);
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          report(name, undefined);
          return [name, 'up'];
        } catch (error) {
          report(name, error);
          return [name, 'down'];
        }
      }),
    );
    const ready = results.every(([, result]) => result === 'up');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) });
  });
}

/**
 * Logs a check when it goes down, when its reason changes and when it is back up, not on every
 * probe: an orchestrator polls /ready every few seconds for as long as a dependency is down.
 */
function readinessReporter(logger: Logger): (check: string, failure: unknown) => void {
  const reasons = new Map<string, string>();
  return (check, failure) => {
    const previous = reasons.get(check);
    if (failure === undefined) {
      if (previous === undefined) return;
      reasons.delete(check);
      logger.info({ check }, 'readiness check up again');
      return;
    }
    const reason = (failure instanceof Error ? failure.message : JSON.stringify(failure)).slice(0, MAX_LOGGED_REASON_CHARS);
    if (reason === previous) return;
    reasons.set(check, reason);
    logger.warn({ check, err: failure }, 'readiness check failed');
  };
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
