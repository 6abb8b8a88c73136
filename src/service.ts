import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { Worker, WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { WalletConfig } from './config';
import { pingDatabase } from './database/connection';
import { Announcer } from './finalization/announcer';
import { FinalizationEcho } from './finalization/echo';
import { FinalizationPublisher } from './finalization/publisher';
import { createHttpApp } from './http/app';
import { closeServer, listen } from './http/http-server';
import type { ReadinessCheck } from './http/health';
import { Ledger, WalletReader } from './ledger';
import { verifyChains } from './reconciliation/chain-verification';
import { reconcile, reconciliationOver } from './reconciliation/reconciliation';
import { ServiceStartingError } from './http/errors';
import { availableLater } from './support/available-later';
import { LiveEntryHub } from './live-updates/live-entry-hub';
import { createLogger, type Logger } from './logger';
import { TransactionEventBridge } from './messaging/bridge';
import { BrokerConnection, connectionSilencedWithinMs } from './messaging/broker-connection';
import { LEDGER_ENTRY_HINTS, LedgerEntryHints, type LedgerEntryHint } from './messaging/ledger-entry-hints';
import { MessageRouter } from './messaging/message-router';
import { createMessageDecoder } from './messaging/messages';
import { CONSUMED_QUEUES, FINALIZATION_ECHO } from './messaging/topology';
import { createMetrics, type Metrics } from './metrics';
import { registerPlatformState } from './monitoring/platform-state';
import { platformStateSources } from './monitoring/state-sources';
import { openStores, type Stores } from './stores';
import { untilAvailable } from './support/backoff';
import { ensureLedgerCheckSchedule, reconciliationSchedule, verificationSchedule } from './temporal/ledger-check-schedules';
import { installTemporalRuntime } from './temporal/runtime';
import { ensureSearchAttributes } from './temporal/search-attributes';
import { TransactionWorkflows } from './temporal/transaction-workflows';
import { startTracing } from './tracing/tracing';
import { createWalletWorker } from './temporal/worker';
import { WorkflowBacklogGate } from './temporal/workflow-backlog-gate';

// The composition root: builds every part of the service from its configuration and starts them
// in order. Nothing else constructs the service's parts.

const TEMPORAL_CHECK_TIMEOUT_MS = 2_000;
/** A consumer may be missing this long (a channel reopening, a reconnection) before /ready reports it. */
const CONSUMER_GRACE_MS = 10_000;

export interface WalletServiceOptions {
  logger?: Logger;
  /** A workflow bundle built beforehand (tests share one); otherwise the worker bundles at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Called when a part fails beyond recovery (the worker stopped by itself); main exits on it. */
  onFatal?: (error: unknown) => void;
  /** Aborts a start-up still waiting for its servers (a SIGTERM during start). */
  signal?: AbortSignal;
  /** Temporal worker interceptors beside tracing's (tests use them to hold an activity at a chosen moment). */
  workerInterceptors?: WorkerOptions['interceptors'];
}

export interface WalletService {
  readonly config: WalletConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly stores: Stores;
  readonly ledger: Ledger;
  /** Where the HTTP API listens (the configured port, or the one picked when it was 0). */
  readonly httpPort: number;
  stop(): Promise<void>;
}

/** What start-up has connected so far: readiness reports on these. */
interface Parts {
  stores?: Stores;
  temporal?: Connection;
  broker?: BrokerConnection;
}

/**
 * Starts the whole service: HTTP first (health answers while the rest connects), then the database,
 * Temporal (client, search attributes, worker), and last the RabbitMQ bridge, so that no message is
 * taken before everything it needs is there.
 */
export async function startWalletService(config: WalletConfig, options: WalletServiceOptions = {}): Promise<WalletService> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const tracing = startTracing(config.tracing.otlpEndpoint, config.tracing.serviceName);
  const temporalMetricsUrl = await installTemporalRuntime(logger, config.temporal.metricsPort);
  const parts: Parts = {};
  const waitFor = <T>(what: string, attempt: () => Promise<T>) => untilAvailable(what, attempt, logger, options.signal);

  // The HTTP server answers before the database is reached: its reads answer 503 until then.
  let walletReader: WalletReader | undefined;
  const reads = availableLater(
    () => walletReader,
    () => new ServiceStartingError(),
  );
  // The hints reach the broker once it is connected, below; until then the hub has nothing to tell.
  let hints: LedgerEntryHints | undefined;
  const liveUpdates = new LiveEntryHub(config.liveUpdates, reads, metrics, logger, (following) => hints?.listen(following));
  const server = await listen(
    createHttpApp({
      config,
      logger,
      metrics,
      temporalMetricsUrl,
      readinessChecks: readinessChecks(parts),
      reads,
      liveUpdates,
    }),
    config.http.port,
    metrics,
  );
  const httpPort = (server.address() as AddressInfo).port;
  logger.info({ port: httpPort }, 'HTTP API listening');

  const stores = (parts.stores = await waitFor('MongoDB', () =>
    openStores(config.mongo.url, config.wallet.finalizationLogRetentionHours, metrics.queryDuration),
  ));
  const broker = (parts.broker = new BrokerConnection(config.amqp.url, 'wallet-service', logger, {
    reopened: (channel) => metrics.channelReopens.inc({ channel }),
  }));
  hints = new LedgerEntryHints(
    broker,
    config.liveUpdates.hintQueueMaxLength,
    { heard: (hint) => liveUpdates.wake(hint.userId), hearing: () => liveUpdates.wakeAll() },
    metrics,
    logger,
  );
  hints.listen(liveUpdates.following);
  const ledger = new Ledger(stores.ledger, metrics, config.wallet.initialBalance, hintPublisher(hints, logger));
  walletReader = new WalletReader(stores.ledger);

  const temporal = (parts.temporal = Connection.lazy({ address: config.temporal.address }));
  const client = new Client({ connection: temporal, namespace: config.temporal.namespace, interceptors: tracing.clientInterceptors });
  await prepareNamespace(config, client, temporal, logger, waitFor);

  const activities = walletActivities(config, stores, ledger, broker, metrics, logger);
  const { worker, connection: workerConnection } = await waitFor('Temporal worker', () =>
    createWalletWorker({
      config: config.temporal,
      activities,
      tracing,
      workflowBundle: options.workflowBundle,
      interceptors: options.workerInterceptors,
    }),
  );
  const workerRun = runWorker(worker, logger, options.onFatal);

  const bridge = transactionEventBridge(config, broker, stores, ledger, client, metrics, logger);
  registerPlatformState(metrics.registry, platformStateSources(stores, broker, client, config.temporal), logger);
  broker.start();
  await broker.waitUntilConnected(options.signal);

  const stop = once(async () => {
    // Live-update clients reconnect to another replica and resume where they were.
    liveUpdates.close();
    logger.info('stopping: draining messages in hand');
    await bridge.stop(config.shutdownGraceSeconds * 1000);
    await stopWorker(worker, workerRun);
    await broker.close();
    await closeServer(server);
    await Promise.all([workerConnection.close(), temporal.close(), stores.close()]);
    await tracing.shutdown();
    logger.info('stopped');
  });
  return { config, logger, metrics, stores, ledger, httpPort, stop };
}

/** The activities the workflows call, over the ledger, the transaction records and the announcer. */
function walletActivities(
  config: WalletConfig,
  stores: Stores,
  ledger: Ledger,
  broker: BrokerConnection,
  metrics: Metrics,
  logger: Logger,
): ReturnType<typeof createActivities> {
  const maxHoldMs = config.amqp.maxHoldSeconds * 1000;
  const announcer = new Announcer({
    records: stores.records,
    publisher: new FinalizationPublisher(broker, metrics, logger),
    log: stores.finalizations,
    echo: new FinalizationEcho(broker, stores.finalizations, maxHoldMs, logger),
  });
  return createActivities({
    ledger,
    records: stores.records,
    announcer,
    rollbackFenceMs: connectionSilencedWithinMs(config.amqp.url),
    reconcile: async (pass) => {
      const report = await reconcile(reconciliationOver(stores, ledger), {
        ...pass,
        stalledAfterMs: config.wallet.reconciliationStalledAfterMinutes * 60_000,
      }).catch((error: unknown) => {
        metrics.reconciliationFailures.inc();
        throw error;
      });
      // The scheduled pass is also when what was kept only for retries goes (FerretDB has no TTL index).
      const pruned = await stores.finalizations.prune();
      logger.info({ pass: report.pass, pruned }, 'finalization log pruned');
      return report;
    },
    verifyChains: (slice) => verifyChains(stores.ledger, slice),
  });
}

/** The RabbitMQ bridge: each transaction event to its workflow, admitted while the workflow backlog allows. */
function transactionEventBridge(
  config: WalletConfig,
  broker: BrokerConnection,
  stores: Stores,
  ledger: Ledger,
  client: Client,
  metrics: Metrics,
  logger: Logger,
): TransactionEventBridge {
  const maxHoldMs = config.amqp.maxHoldSeconds * 1000;
  return new TransactionEventBridge(
    broker,
    new MessageRouter(
      ledger,
      new TransactionWorkflows(client, config.temporal.taskQueue, config.temporal.stepTimeoutSeconds * 1000),
      stores.records,
      stores.finalizations,
    ),
    {
      prefetch: config.amqp.prefetch,
      maxHoldMs,
      maxPermanentFailures: config.amqp.maxPermanentFailures,
      decode: createMessageDecoder({ maxMessageBytes: config.amqp.maxMessageBytes, amountLimits: config.wallet.amountLimits }),
      admission: new WorkflowBacklogGate(client, config.temporal.taskQueue, config.temporal.maxWorkflowBacklog, logger),
    },
    metrics,
    logger,
  );
}

/** Each entry written is hinted to every replica; a failure of the hint is logged and never reaches the leg. */
function hintPublisher(hints: LedgerEntryHints, logger: Logger): (hint: LedgerEntryHint) => void {
  return (hint) => {
    try {
      hints.publish(hint);
    } catch (error) {
      logger.warn({ err: error }, 'ledger entry hint failed');
    }
  };
}

function readinessChecks(parts: Parts): Record<string, ReadinessCheck> {
  return {
    mongodb: async () => {
      if (!parts.stores) throw new Error('not connected yet');
      await pingDatabase(parts.stores.connection);
    },
    rabbitmq: async () => {
      if (!parts.broker?.isConnected) throw new Error('not connected');
    },
    ...Object.fromEntries(EXPECTED_CONSUMERS.map((consumer) => [`consumer ${consumer}`, consumerCheck(parts, consumer)])),
    temporal: async () => {
      const connection = parts.temporal;
      if (!connection) throw new Error('not connected yet');
      await connection.withDeadline(Date.now() + TEMPORAL_CHECK_TIMEOUT_MS, () => connection.workflowService.getSystemInfo({}));
    },
  };
}

/** Every queue the service consumes: readiness names each one missing. */
const EXPECTED_CONSUMERS = [...CONSUMED_QUEUES, FINALIZATION_ECHO.queue, LEDGER_ENTRY_HINTS.consumer];

function consumerCheck(parts: Parts, consumer: string): ReadinessCheck {
  return async () => {
    if (!parts.broker) throw new Error('not connected yet');
    if (parts.broker.missingConsumers(CONSUMER_GRACE_MS).includes(consumer)) {
      throw new Error(`no consumer for over ${CONSUMER_GRACE_MS / 1000}s`);
    }
  };
}

/** The namespace's search attributes, and the ledger checks' schedules on this service's task queue. */
async function prepareNamespace(
  config: WalletConfig,
  client: Client,
  temporal: Connection,
  logger: Logger,
  waitFor: <T>(what: string, attempt: () => Promise<T>) => Promise<T>,
): Promise<void> {
  await waitFor('Temporal', () => ensureSearchAttributes(temporal, config.temporal.namespace));
  const checks = [
    reconciliationSchedule(config.wallet.reconciliationIntervalMinutes),
    verificationSchedule(config.wallet.verificationIntervalHours * 60),
  ].filter((check) => check.intervalMinutes > 0);
  for (const check of checks) {
    await waitFor('Temporal schedules', () => ensureLedgerCheckSchedule(client, check, config.temporal.taskQueue, logger));
  }
}

function runWorker(worker: Worker, logger: Logger, onFatal: ((error: unknown) => void) | undefined): Promise<void> {
  return worker.run().catch((error: unknown) => {
    logger.fatal({ err: error }, 'Temporal worker stopped');
    onFatal?.(error);
  });
}

async function stopWorker(worker: Worker, running: Promise<void>): Promise<void> {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running;
}

function once(task: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= task());
}
