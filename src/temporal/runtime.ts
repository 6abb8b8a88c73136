import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger';

const PINO_LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Sends the Temporal SDK's own logs (worker, workflow and activity loggers) through the service's
 * JSON logger. The runtime is process-wide and can be installed once; later calls keep the first.
 */
export function installTemporalRuntime(logger: Logger): void {
  const temporalLogger = logger.child({ component: 'temporal' });
  try {
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => {
        // pino serializes errors under `err` only; the SDK passes them as `error`.
        const { error, ...meta } = entry.meta ?? {};
        temporalLogger[PINO_LEVELS[entry.level]]({ ...meta, ...(error === undefined ? {} : { err: error }) }, entry.message);
      }),
    });
  } catch (error) {
    if (!/already/i.test((error as Error).message)) throw error;
  }
}
