import type { Logger } from '../logger';

/** Exponential backoff with full jitter: the delay before retry number `attempt` (1-based). */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

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
