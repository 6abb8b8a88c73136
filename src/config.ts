import { z } from 'zod';

// The one configuration module: every setting the service reads from its environment, validated at
// start. Names shared with the platform's deployments follow ../shared/CONTRACT.md.

/** Accepted amounts per transaction type, in minor units. */
export interface AmountLimits {
  topUp: { min: number; max: number };
  transfer: { min: number; max: number };
}

/** What the transactions service itself accepts (CONTRACT.md). */
export const PLATFORM_AMOUNT_LIMITS: AmountLimits = { topUp: { min: 1, max: 100_000 }, transfer: { min: 1, max: 50_000 } };

/** Eight days: a day longer than a transaction's steps retry by default (TRANSACTION_STEP_TIMEOUT_SECONDS). */
export const DEFAULT_FINALIZATION_LOG_RETENTION_HOURS = 8 * 24;

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const mongoUrl = z.string().regex(/^mongodb(\+srv)?:\/\/.+/, 'must be a mongodb:// or mongodb+srv:// URL');

const MAX_AMQP_HEARTBEAT_SECONDS = 60;

// A heartbeat is what lets the broker close the connection of a frozen process, which a rollback
// waits for (see RollbackDecision): it may be shortened in the URL, not turned off.
const amqpUrl = z
  .string()
  .regex(/^amqps?:\/\/.+/, 'must be an amqp:// or amqps:// URL')
  .refine(
    (url) => {
      const heartbeat = URL.canParse(url) ? new URL(url).searchParams.get('heartbeat') : null;
      return heartbeat === null || (/^\d+$/.test(heartbeat) && Number(heartbeat) >= 1 && Number(heartbeat) <= MAX_AMQP_HEARTBEAT_SECONDS);
    },
    { message: `its heartbeat parameter must be 1-${MAX_AMQP_HEARTBEAT_SECONDS} seconds (it cannot be turned off)` },
  );

const hostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port');

/** Express's named subnets for `trust proxy`. */
const PROXY_SUBNETS = ['loopback', 'linklocal', 'uniquelocal'] as const;
const MAX_PROXY_HOPS = 10;
const MAX_PROXY_ADDRESSES = 32;

const proxyAddress = z.union([z.enum(PROXY_SUBNETS), z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]);

/** Express's `trust proxy`, in the forms it accepts that can be checked here: a flag, a hop count, or proxy addresses. */
const trustProxy = z.union(
  [
    z.enum(['false', 'true']).transform((flag) => flag === 'true'),
    z
      .string()
      .regex(/^\d{1,2}$/)
      .transform(Number)
      .pipe(z.number().max(MAX_PROXY_HOPS)),
    z
      .string()
      .transform((list) =>
        list
          .split(',')
          .map((address) => address.trim())
          .filter(Boolean),
      )
      .pipe(z.array(proxyAddress).min(1).max(MAX_PROXY_ADDRESSES)),
  ],
  {
    error: `must be false, true, a hop count 0-${MAX_PROXY_HOPS}, or comma-separated proxy IPs, CIDRs, ${PROXY_SUBNETS.join(', ')}`,
  },
);

/** Every setting the service reads from its environment, with its bounds and default. */
export const SETTINGS = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** An OTLP/HTTP collector's base URL (spans go to its /v1/traces); unset, tracing is off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('wallet-service'),
  PORT: integer(0, 65535).default(4003),

  DATABASE_URL: mongoUrl.default('mongodb://127.0.0.1:27017/mint_wallet'),
  RABBITMQ_URL: amqpUrl.default('amqp://guest:guest@127.0.0.1:5672'),

  JWKS_ENDPOINT: z.url().optional(),
  JWT_PUBLIC_KEY: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }).optional(),
  JWT_ISS: z.string().min(1).default('auth-service'),
  JWT_AUD: z.string().min(1).default('wallet-service'),
  /** Accepted signature algorithms; the platform signs RS256 only. */
  JWT_ALGORITHMS: z
    .string()
    .default('RS256')
    .transform((list) =>
      list
        .split(',')
        .map((alg) => alg.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'])).min(1)),
  JWT_CLOCK_TOLERANCE_SECONDS: integer(0, 300).default(30),
  /** Least time between two JWKS fetches caused by a token: an unknown key id, or a signature the cached keys refuse. */
  JWKS_REFRESH_COOLDOWN_SECONDS: integer(0, 3600).default(30),

  /** Browser origins allowed to call the API with credentials (comma-separated); none by default. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url())),
  /** Requests per minute per client address on the API (health, readiness and metrics are exempt). */
  RATE_LIMIT_PER_MINUTE: integer(1, 1_000_000).default(600),
  /**
   * Which proxies in front may name the client in X-Forwarded-For (Express's `trust proxy`); without
   * it every caller behind a proxy has the proxy's address, and shares one rate-limit bucket.
   */
  TRUST_PROXY: trustProxy.default(false),

  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('wallet'),
  /** A workflow bundle built by `npm run build`; without it the worker bundles the workflows at start. */
  TEMPORAL_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /**
   * Local port (127.0.0.1) of the Temporal SDK's own Prometheus exporter, whose figures /metrics
   * serves beside the service's; 0 picks a free one. Process-wide: the first service of a process sets it.
   */
  TEMPORAL_METRICS_PORT: integer(0, 65535).default(0),

  /**
   * Amounts a `transaction.completed` may carry, per type, in minor units; others are dead-lettered
   * and announced Failed. The transactions service's own limits by default (CONTRACT.md).
   */
  TOP_UP_MIN_AMOUNT: integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.topUp.min),
  TOP_UP_MAX_AMOUNT: integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.topUp.max),
  TRANSFER_MIN_AMOUNT: integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.transfer.min),
  TRANSFER_MAX_AMOUNT: integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.transfer.max),
  /** Balance of a wallet created by `user.signup`, in minor units. */
  WALLET_INITIAL_BALANCE: integer(0, Number.MAX_SAFE_INTEGER).default(0),
  /** Minutes between scheduled ledger reconciliations; 0 leaves the schedule alone. */
  RECONCILIATION_INTERVAL_MINUTES: integer(0, 7 * 24 * 60).default(60),
  /**
   * A transaction not final this long after it opened, or Failed and not undone this long after it
   * was decided, is reported stalled by the reconciliation.
   */
  RECONCILIATION_STALLED_AFTER_MINUTES: integer(1, 30 * 24 * 60).default(60),
  /** Hours between scheduled re-walks of every wallet's hash chain; 0 leaves the schedule alone. */
  VERIFICATION_INTERVAL_HOURS: integer(0, 90 * 24).default(24),
  /**
   * How long one step of a transaction (a leg, its record, the announcement) retries an
   * infrastructure failure by itself before the transaction waits for an operator (NeedsOperator).
   */
  TRANSACTION_STEP_TIMEOUT_SECONDS: integer(10, 30 * 24 * 60 * 60).default(7 * 24 * 60 * 60),
  /**
   * How long the finalization log keeps that an announcement reached the broker: read only while
   * the announcement may be retried, so it must outlast TRANSACTION_STEP_TIMEOUT_SECONDS.
   */
  FINALIZATION_LOG_RETENTION_HOURS: integer(1, 366 * 24).default(DEFAULT_FINALIZATION_LOG_RETENTION_HOURS),
  /** Unacknowledged deliveries per consumer channel. */
  AMQP_PREFETCH: integer(1, 1000).default(32),
  /**
   * How long a message may stay unacknowledged (Temporal or the database down, the backlog full):
   * past it, it goes back to its queue and is delivered again. Keep it well below the broker's
   * `consumer_timeout` (30 minutes by default), past which RabbitMQ closes the consumer's channel.
   */
  AMQP_MAX_HOLD_SECONDS: integer(5, 24 * 60 * 60).default(15 * 60),
  /** Tries of a message that fails for a permanent reason (not an outage) before it is dead-lettered. */
  AMQP_MAX_PERMANENT_FAILURES: integer(1, 100).default(5),
  /** Larger message bodies are dead-lettered unread. */
  AMQP_MAX_MESSAGE_BYTES: integer(256, 16 * 1024 * 1024).default(64 * 1024),
  /**
   * New transaction executions allowed to wait for a worker: above it the bridge holds its
   * messages, so a burst queues in RabbitMQ rather than as open executions in Temporal.
   */
  BRIDGE_MAX_WORKFLOW_BACKLOG: integer(1, 100000).default(300),
  /** Concurrent activity executions in this process's Temporal worker. */
  WORKER_MAX_CONCURRENT_ACTIVITIES: integer(1, 1000).default(64),
  /** Workflow executions kept in the worker's sticky cache. */
  WORKER_MAX_CACHED_WORKFLOWS: integer(0, 100000).default(150),
  /** How long SIGTERM waits for in-flight work before closing connections. */
  SHUTDOWN_GRACE_SECONDS: integer(1, 600).default(20),

  /** The longest range a statement may cover. */
  STATEMENT_MAX_RANGE_DAYS: integer(1, 3660).default(366),
  /** Entries a statement reads (by _id) and writes per batch. */
  STATEMENT_BATCH_SIZE: integer(1, 5000).default(200),
  /** Reads by _id one statement has in flight at once: statements share the database pool with the ledger's writes. */
  STATEMENT_READ_CONCURRENCY: integer(1, 64).default(8),
  /** Statements streamed at once by this process; more are 503. */
  STATEMENT_MAX_CONCURRENT: integer(1, 1000).default(4),
  /** A statement still streaming after this is cut off (the client sees the response fail). */
  STATEMENT_TIMEOUT_SECONDS: integer(1, 3600).default(600),

  /** Live-update (SSE) connections this process holds at once; more are 503. */
  LIVE_UPDATES_MAX_CONNECTIONS: integer(1, 100_000).default(1000),
  /** Live-update connections of one user at once in this process; more are 503. */
  LIVE_UPDATES_MAX_CONNECTIONS_PER_USER: integer(1, 100).default(5),
  /**
   * Seconds between heartbeat comments on an idle live-update connection: shorter than the read
   * timeout of every proxy in front (the platform's nginx cuts a silent stream after 10 s).
   */
  LIVE_UPDATES_HEARTBEAT_SECONDS: integer(1, 300).default(5),
  /** Seconds between reads of the ledger per connection without a hint: the safety net for hints lost. */
  LIVE_UPDATES_CATCH_UP_SECONDS: integer(1, 600).default(5),
  /** The reconnection delay a live-update client is told (SSE `retry:`), in milliseconds. */
  LIVE_UPDATES_RETRY_MS: integer(100, 600_000).default(3000),
  /** A client that takes longer than this to accept an event is disconnected (it resumes by Last-Event-ID). */
  LIVE_UPDATES_SEND_TIMEOUT_SECONDS: integer(1, 600).default(30),
  /** Entries read and sent per catch-up round on one connection. */
  LIVE_UPDATES_BATCH_SIZE: integer(1, 1000).default(100),
  /** Hints of new entries this process's queue holds at most; the oldest are dropped past it. */
  LIVE_UPDATES_HINT_QUEUE_MAX_LENGTH: integer(1, 1_000_000).default(10_000),
});

/** The service verifies tokens; the operators' command line reads no token and needs no key. */
const consistentSettings = SETTINGS.refine((env) => env.TOP_UP_MIN_AMOUNT <= env.TOP_UP_MAX_AMOUNT, {
  message: 'must not exceed TOP_UP_MAX_AMOUNT',
  path: ['TOP_UP_MIN_AMOUNT'],
})
  .refine((env) => env.TRANSFER_MIN_AMOUNT <= env.TRANSFER_MAX_AMOUNT, {
    message: 'must not exceed TRANSFER_MAX_AMOUNT',
    path: ['TRANSFER_MIN_AMOUNT'],
  })
  .refine((env) => env.FINALIZATION_LOG_RETENTION_HOURS * 3600 > env.TRANSACTION_STEP_TIMEOUT_SECONDS, {
    message: 'must outlast TRANSACTION_STEP_TIMEOUT_SECONDS: an announcement is retried that long',
    path: ['FINALIZATION_LOG_RETENTION_HOURS'],
  });

const serviceSettings = consistentSettings.refine((env) => env.JWKS_ENDPOINT !== undefined || env.JWT_PUBLIC_KEY !== undefined, {
  message: 'JWKS_ENDPOINT is required unless JWT_PUBLIC_KEY is given',
  path: ['JWKS_ENDPOINT'],
});

/** The service's configuration, grouped by what uses it (see configFrom). */
export type WalletConfig = ReturnType<typeof configFrom>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws ConfigError naming every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, { forService = true } = {}): WalletConfig {
  // An empty variable means "not set", as most deployment tools write unset values.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = (forService ? serviceSettings : consistentSettings).safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return configFrom(parsed.data);
}

/** The settings, grouped by the part of the service that reads them. */
function configFrom(e: z.output<typeof SETTINGS>) {
  return {
    logLevel: e.LOG_LEVEL,
    tracing: { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME },
    http: { port: e.PORT, corsOrigins: e.CORS_ORIGINS, rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE, trustProxy: e.TRUST_PROXY },
    mongo: { url: e.DATABASE_URL },
    amqp: {
      url: e.RABBITMQ_URL,
      prefetch: e.AMQP_PREFETCH,
      maxMessageBytes: e.AMQP_MAX_MESSAGE_BYTES,
      maxHoldSeconds: e.AMQP_MAX_HOLD_SECONDS,
      maxPermanentFailures: e.AMQP_MAX_PERMANENT_FAILURES,
    },
    auth: {
      jwksEndpoint: e.JWKS_ENDPOINT,
      publicKeyPem: e.JWT_PUBLIC_KEY,
      issuer: e.JWT_ISS,
      audience: e.JWT_AUD,
      algorithms: e.JWT_ALGORITHMS,
      clockToleranceSeconds: e.JWT_CLOCK_TOLERANCE_SECONDS,
      jwksRefreshCooldownSeconds: e.JWKS_REFRESH_COOLDOWN_SECONDS,
    },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      workflowBundlePath: e.TEMPORAL_WORKFLOW_BUNDLE,
      metricsPort: e.TEMPORAL_METRICS_PORT,
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      maxWorkflowBacklog: e.BRIDGE_MAX_WORKFLOW_BACKLOG,
      stepTimeoutSeconds: e.TRANSACTION_STEP_TIMEOUT_SECONDS,
    },
    wallet: {
      initialBalance: e.WALLET_INITIAL_BALANCE,
      reconciliationIntervalMinutes: e.RECONCILIATION_INTERVAL_MINUTES,
      reconciliationStalledAfterMinutes: e.RECONCILIATION_STALLED_AFTER_MINUTES,
      verificationIntervalHours: e.VERIFICATION_INTERVAL_HOURS,
      finalizationLogRetentionHours: e.FINALIZATION_LOG_RETENTION_HOURS,
      amountLimits: {
        topUp: { min: e.TOP_UP_MIN_AMOUNT, max: e.TOP_UP_MAX_AMOUNT },
        transfer: { min: e.TRANSFER_MIN_AMOUNT, max: e.TRANSFER_MAX_AMOUNT },
      },
    },
    statement: {
      maxRangeDays: e.STATEMENT_MAX_RANGE_DAYS,
      batchSize: e.STATEMENT_BATCH_SIZE,
      readConcurrency: e.STATEMENT_READ_CONCURRENCY,
      maxConcurrent: e.STATEMENT_MAX_CONCURRENT,
      timeoutSeconds: e.STATEMENT_TIMEOUT_SECONDS,
    },
    liveUpdates: {
      maxConnections: e.LIVE_UPDATES_MAX_CONNECTIONS,
      maxConnectionsPerUser: e.LIVE_UPDATES_MAX_CONNECTIONS_PER_USER,
      heartbeatSeconds: e.LIVE_UPDATES_HEARTBEAT_SECONDS,
      catchUpSeconds: e.LIVE_UPDATES_CATCH_UP_SECONDS,
      retryMs: e.LIVE_UPDATES_RETRY_MS,
      sendTimeoutSeconds: e.LIVE_UPDATES_SEND_TIMEOUT_SECONDS,
      batchSize: e.LIVE_UPDATES_BATCH_SIZE,
      hintQueueMaxLength: e.LIVE_UPDATES_HINT_QUEUE_MAX_LENGTH,
    },
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
  };
}
