import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const HTTP_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const QUERY_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** The transactions service's ObjectId clock has whole seconds: finer buckets would say nothing. */
const FINALIZATION_SECONDS = [1, 2, 5, 10, 30, 60, 120, 300, 900, 3600];

/**
 * The service's Prometheus metrics, on a registry of its own so several services can share a
 * process in tests. The HTTP and database metrics come twice: under the platform's names and labels
 * (`http_*`, `active_connections`, `db_query_duration_seconds`), which every service of the platform
 * exports and its dashboard reads, and under the wallet's own. Gauges of the platform's state (the
 * reconciliation, the broker's queues, transactions waiting) are read at scrape time: see
 * src/monitoring.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    messagesConsumed: new Counter({
      name: 'wallet_messages_consumed_total',
      help: 'RabbitMQ messages handled, by queue and outcome (accepted, duplicate, dead_lettered, requeued: held past AMQP_MAX_HOLD_SECONDS)',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'wallet_dead_lettered_total',
      help: 'Messages moved to the dead-letter queue, by original queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    deadLettersRefused: new Counter({
      name: 'wallet_dead_letters_refused_total',
      help: 'Messages the dead-letter queue refused (wallet.dlq full, most likely); each stays in its queue and is tried again',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    channelReopens: new Counter({
      name: 'wallet_amqp_channel_reopens_total',
      help: 'RabbitMQ channels reopened after the broker closed them on a live connection, by channel',
      labelNames: ['channel'] as const,
      registers: [registry],
    }),
    bridgeRetries: new Counter({
      name: 'wallet_bridge_retries_total',
      help: 'Infrastructure failures while handing a message to Temporal or the database, retried with backoff',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    ledgerVersionConflicts: new Counter({
      name: 'wallet_ledger_version_conflicts_total',
      help: 'Ledger writes that lost the race for a wallet version and were retried',
      registers: [registry],
    }),
    ledgerEntries: new Counter({
      name: 'wallet_ledger_entries_total',
      help: 'Ledger entries written, by leg',
      labelNames: ['leg'] as const,
      registers: [registry],
    }),
    finalizationsPublished: new Counter({
      name: 'wallet_finalizations_published_total',
      help: 'wallet.transactionFinalized messages confirmed by the broker, by status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    liveUpdateConnections: new Gauge({
      name: 'wallet_live_update_connections',
      help: 'Live-update (SSE) connections this process holds',
      registers: [registry],
    }),
    ledgerEntryHints: new Counter({
      name: 'wallet_ledger_entry_hints_total',
      help: 'Hints of new ledger entries for the live updates, by outcome: published, dropped (channel not writable), received',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    ledgerEntryHintMessages: new Counter({
      name: 'wallet_ledger_entry_hint_messages_total',
      help: 'Messages published carrying hints of new ledger entries: each carries the hints given within a few milliseconds',
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'wallet_http_request_duration_seconds',
      help: 'HTTP request duration by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: HTTP_SECONDS,
      registers: [registry],
    }),
    platformHttpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: "HTTP request duration by method, route template and status code (the platform's name)",
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: HTTP_SECONDS,
      registers: [registry],
    }),
    platformHttpRequests: new Counter({
      name: 'http_requests_total',
      help: "HTTP requests answered, by method, route template and status code (the platform's name)",
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    }),
    activeConnections: new Gauge({
      name: 'active_connections',
      help: "Open HTTP connections to this process, live-update streams included (the platform's name)",
      registers: [registry],
    }),
    queryDuration: new Histogram({
      name: 'db_query_duration_seconds',
      help: "Database commands by operation and collection, as the driver timed them (the platform's name)",
      labelNames: ['operation', 'collection'] as const,
      buckets: QUERY_SECONDS,
      registers: [registry],
    }),
    finalizationLatency: new Histogram({
      name: 'wallet_finalization_latency_seconds',
      help: "From a transaction's creation by the transactions service (its id's clock, whole seconds) to the broker's confirm of its first finalization, by status",
      labelNames: ['status'] as const,
      buckets: FINALIZATION_SECONDS,
      registers: [registry],
    }),
    reconciliationFailures: new Counter({
      name: 'wallet_reconciliation_failures_total',
      help: 'Reconciliation passes this process began that threw (an infrastructure failure, a pass taken over); a pass that found problems is not one',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
