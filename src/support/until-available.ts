import type { Logger } from '../logger';
import { backoffDelayMs, sleep } from './backoff';

const STARTUP_BACKOFF = { initialMs: 250, maxMs: 10_000 };

/**
 * Runs `attempt` until it succeeds, backing off between failures, so the service can start before
 * its servers and wait for them. Gives up only when `signal` aborts (shutdown during start-up).
 */
export async function untilAvailable<T>(what: string, attempt: () => Promise<T>, logger: Logger, signal?: AbortSignal): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw new Error(`start-up aborted while waiting for ${what}`, { cause: error });
      logger.warn({ err: error, failures }, `${what} not available yet; retrying`);
      await sleep(backoffDelayMs(STARTUP_BACKOFF, failures), signal);
      if (signal?.aborted) throw new Error(`start-up aborted while waiting for ${what}`, { cause: error });
    }
  }
}
