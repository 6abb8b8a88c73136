import { createServer } from 'node:net';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger';

const PINO_LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Where the SDK's Prometheus exporter of this process serves, once the runtime is installed. */
let installedMetricsUrl: string | undefined;

/**
 * Installs the process-wide Temporal runtime, once (later calls keep the first): the SDK's own logs
 * (worker, workflow and activity loggers) go through the service's JSON logger, and its metrics
 * (task latencies, slots, sticky cache, local activities; durations in seconds, counters with
 * `_total`) to a Prometheus exporter on 127.0.0.1:`metricsPort` (0: a free port). Returns the
 * exporter's URL, which /metrics reads and serves beside the service's own figures; undefined when
 * something in the process had already instantiated a runtime without it.
 */
export async function installTemporalRuntime(logger: Logger, metricsPort: number): Promise<string | undefined> {
  if (installedMetricsUrl) return installedMetricsUrl;
  const port = metricsPort === 0 ? await freeLocalPort() : metricsPort;
  const temporalLogger = logger.child({ component: 'temporal' });
  try {
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => {
        // pino serializes errors under `err` only; the SDK passes them as `error`.
        const { error, ...meta } = entry.meta ?? {};
        temporalLogger[PINO_LEVELS[entry.level]]({ ...meta, ...(error === undefined ? {} : { err: error }) }, entry.message);
      }),
      telemetryOptions: {
        metrics: {
          prometheus: { bindAddress: `127.0.0.1:${port}`, useSecondsForDurations: true, countersTotalSuffix: true },
        },
      },
    });
  } catch (error) {
    if (!/already/i.test((error as Error).message)) throw error;
    logger.warn('the Temporal runtime was installed before the service: its metrics are not exported');
    return undefined;
  }
  installedMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  return installedMetricsUrl;
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
