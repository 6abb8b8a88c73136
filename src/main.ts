import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { startWalletService, type WalletService } from './service';

// The service process: configuration, start-up, and a graceful stop on SIGTERM/SIGINT.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const shutdown = new AbortController();
  let service: WalletService | undefined;

  const stop = async (signal: string) => {
    if (shutdown.signal.aborted) return;
    logger.info({ signal }, 'shutdown requested');
    shutdown.abort();
    await service?.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });

  try {
    service = await startWalletService(config, {
      logger,
      signal: shutdown.signal,
      onFatal: () => process.exit(1),
    });
  } catch (error) {
    if (shutdown.signal.aborted) process.exit(0);
    throw error;
  }
  logger.info(
    { api: `http://localhost:${service.httpPort}`, temporal: config.temporal.address, taskQueue: config.temporal.taskQueue },
    'wallet service started',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`wallet service failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
