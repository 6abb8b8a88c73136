import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { WalletConfig } from './config';
import { createHttpApp } from './http/app';
import type { ReadinessCheck } from './http/health';
import { Ledger } from './ledger/ledger';
import { WalletReader } from './ledger/wallet-reader';
import { createLogger, type Logger } from './logger';
import { BrokerConnection } from './messaging/broker-connection';
import { TransactionEventBridge } from './messaging/bridge';
import { FinalizationEcho } from './messaging/finalization-echo';
import { FinalizationPublisher } from './messaging/finalization-publisher';
import { MessageRouter } from './messaging/message-router';
import { createMessageDecoder } from './messaging/messages';
import { createMetrics, type Metrics } from './metrics';
import { openDatabase, type Database } from './persistence/mongo';
import { untilAvailable } from './support/until-available';
import { installTemporalRuntime } from './temporal/runtime';
import { ensureSearchAttributes } from './temporal/search-attributes';
import { ensureReconciliationSchedule } from './temporal/reconciliation-schedule';
import { reconcile } from './ledger/reconciliation';
import { TransactionWorkflows } from './temporal/transaction-workflows';
import { createWalletWorker } from './temporal/worker';
import { WorkflowBacklogGate } from './temporal/workflow-backlog-gate';

export interface WalletServiceOptions {
  logger?: Logger;
  /** A workflow bundle built beforehand (tests share one); otherwise the worker bundles at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Called when a part fails beyond recovery (the worker stopped by itself); main exits on it. */
  onFatal?: (error: unknown) => void;
  /** Aborts a start-up still waiting for its servers (a SIGTERM during start). */
  signal?: AbortSignal;
  /** Temporal worker interceptors (tracing; tests use them to hold an activity at a chosen moment). */
  workerInterceptors?: WorkerOptions['interceptors'];
}

export interface WalletService {
  readonly config: WalletConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly ledger: Ledger;
  /** Where the HTTP API listens (the configured port, or the one picked when it was 0). */
  readonly httpPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the whole service: HTTP first (health answers while the rest connects), then the database,
 * Temporal (client, search attributes, worker), and last the RabbitMQ bridge, so that no message is
 * taken before everything it needs is there.
 */
export async function startWalletService(config: WalletConfig, options: WalletServiceOptions = {}): Promise<WalletService> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  installTemporalRuntime(logger);
  const parts: { db?: Database; temporal?: Connection; broker?: BrokerConnection } = {};

  const readinessChecks: Record<string, ReadinessCheck> = {
    mongodb: async () => {
      if (!parts.db) throw new Error('not connected yet');
      await parts.db.ping();
    },
    rabbitmq: async () => {
      if (!parts.broker?.isConnected) throw new Error('not connected');
    },
    temporal: async () => {
      if (!parts.temporal) throw new Error('not connected yet');
      const connection = parts.temporal;
      await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.getSystemInfo({}));
    },
  };
  let walletReader: WalletReader | undefined;
  const server = await listen(
    createHttpApp({ config, logger, metrics, readinessChecks, walletReader: () => walletReader }),
    config.http.port,
  );
  const httpPort = (server.address() as AddressInfo).port;
  logger.info({ port: httpPort }, 'HTTP API listening');

  const db = await untilAvailable('MongoDB', () => openDatabase(config.mongo.url), logger, options.signal);
  parts.db = db;
  const ledger = new Ledger(db, metrics, config.wallet.initialBalance);
  walletReader = new WalletReader(db);

  const temporal = Connection.lazy({ address: config.temporal.address });
  parts.temporal = temporal;
  const client = new Client({ connection: temporal, namespace: config.temporal.namespace });
  await untilAvailable('Temporal', () => ensureSearchAttributes(temporal, config.temporal.namespace), logger, options.signal);
  if (config.wallet.reconciliationIntervalMinutes > 0) {
    await untilAvailable(
      'Temporal schedules',
      () => ensureReconciliationSchedule(client, config.temporal.taskQueue, config.wallet.reconciliationIntervalMinutes, logger),
      logger,
      options.signal,
    );
  }

  const broker = new BrokerConnection(config.amqp.url, 'wallet-service', logger);
  parts.broker = broker;
  const finalizations = new FinalizationPublisher(broker, metrics, logger);
  const finalizationEcho = new FinalizationEcho(broker, db.finalizations, logger);
  const { worker, connection: workerConnection } = await untilAvailable(
    'Temporal worker',
    () =>
      createWalletWorker({
        config: config.temporal,
        activities: createActivities({
          ledger,
          finalizations,
          finalizationLog: db.finalizations,
          finalizationEcho,
          records: db.transactionRecords,
          reconcile: () => reconcile(db, (userId) => ledger.rollProjectionForward(userId)),
        }),
        workflowBundle: options.workflowBundle,
        interceptors: options.workerInterceptors,
      }),
    logger,
    options.signal,
  );
  const workerRun = worker.run().catch((error: unknown) => {
    logger.fatal({ err: error }, 'Temporal worker stopped');
    options.onFatal?.(error);
  });

  const workflows = new TransactionWorkflows(client, config.temporal.taskQueue);
  const bridge = new TransactionEventBridge(
    broker,
    new MessageRouter(ledger, workflows, db.transactionRecords),
    {
      prefetch: config.amqp.prefetch,
      decode: createMessageDecoder({ maxMessageBytes: config.amqp.maxMessageBytes, amountLimits: config.wallet.amountLimits }),
      admission: new WorkflowBacklogGate(client, config.temporal.taskQueue, config.temporal.maxWorkflowBacklog, metrics, logger),
    },
    metrics,
    logger,
  );
  broker.start();
  await broker.waitUntilConnected(options.signal);

  let stopped: Promise<void> | undefined;
  return {
    config,
    logger,
    metrics,
    db,
    ledger,
    httpPort,
    stop() {
      stopped ??= (async () => {
        const graceMs = config.shutdownGraceSeconds * 1000;
        logger.info('stopping: draining messages in hand');
        await bridge.stop(graceMs);
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerRun;
        await broker.close();
        await closeServer(server);
        await Promise.all([workerConnection.close(), temporal.close(), db.close()]);
        logger.info('stopped');
      })();
      return stopped;
    },
  };
}

function listen(app: ReturnType<typeof createHttpApp>, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, () => resolve(server));
    server.once('error', reject);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}
