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

/** One setting: the environment variable it is read from, its bounds and default, and what it means. */
export interface Setting<S extends z.ZodType = z.ZodType> {
  env: string;
  schema: S;
  meaning: string;
}

const setting = <S extends z.ZodType>(env: string, schema: S, meaning: string): Setting<S> => ({ env, schema, meaning });

const commaSeparated = (byDefault: string) =>
  z
    .string()
    .default(byDefault)
    .transform((list) =>
      list
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    );

/**
 * Every setting the service reads from its environment, grouped by the part of the service that
 * reads it: the configuration's shape (WalletConfig) and docs/configuration.md both come from this.
 */
export const SETTINGS = {
  logLevel: setting('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), 'pino level'),
  tracing: {
    otlpEndpoint: setting(
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      z.url().optional(),
      "an OTLP/HTTP collector's base URL: traces of each transaction go to its `/v1/traces`; unset, tracing is off",
    ),
    serviceName: setting('OTEL_SERVICE_NAME', z.string().min(1).default('wallet-service'), 'the service name on the spans'),
  },
  http: {
    port: setting('PORT', integer(0, 65535).default(4003), 'HTTP port'),
    corsOrigins: setting(
      'CORS_ORIGINS',
      commaSeparated('').pipe(z.array(z.url())),
      'browser origins allowed to call the API with credentials, comma-separated; none by default',
    ),
    rateLimitPerMinute: setting(
      'RATE_LIMIT_PER_MINUTE',
      integer(1, 1_000_000).default(600),
      'API requests per minute per client address (health, readiness and metrics are exempt)',
    ),
    trustProxy: setting(
      'TRUST_PROXY',
      trustProxy.default(false),
      'which proxies may name the client in `X-Forwarded-For` (Express `trust proxy`), so callers behind a proxy get their own ' +
        'rate-limit bucket: `false`, `true` (any caller can pick its address), a hop count `0`–`10`, or comma-separated IPs, ' +
        'CIDRs, `loopback`, `linklocal`, `uniquelocal`',
    ),
  },
  mongo: {
    url: setting('DATABASE_URL', mongoUrl.default('mongodb://127.0.0.1:27017/mint_wallet'), 'MongoDB URL, database `mint_wallet`'),
  },
  amqp: {
    url: setting(
      'RABBITMQ_URL',
      amqpUrl.default('amqp://guest:guest@127.0.0.1:5672'),
      `AMQP URL; its \`heartbeat\` parameter (1–${MAX_AMQP_HEARTBEAT_SECONDS} s, 10 by default, never off) also sets how long a ` +
        'rollback waits before it moves money: three heartbeats',
    ),
    prefetch: setting(
      'AMQP_PREFETCH',
      integer(1, 1000).default(4),
      'unacknowledged deliveries per consumer; each one in hand is an execution being started, and a wider window has the ' +
        'Temporal server start executions in bursts ahead of the transfers already running (docs/performance.md)',
    ),
    maxMessageBytes: setting(
      'AMQP_MAX_MESSAGE_BYTES',
      integer(256, 16 * 1024 * 1024).default(64 * 1024),
      'larger message bodies are dead-lettered unread',
    ),
    maxHoldSeconds: setting(
      'AMQP_MAX_HOLD_SECONDS',
      integer(5, 24 * 60 * 60).default(15 * 60),
      'how long a message may stay unacknowledged (Temporal or the database down, the backlog full) before it goes back to ' +
        "its queue; keep it well under the broker's `consumer_timeout` (30 minutes by default), past which RabbitMQ closes the channel",
    ),
    maxPermanentFailures: setting(
      'AMQP_MAX_PERMANENT_FAILURES',
      integer(1, 100).default(5),
      'tries of a message failing for a permanent reason (not an outage) before it is dead-lettered (a `transaction.completed` ' +
        'is then announced Failed)',
    ),
  },
  auth: {
    jwksEndpoint: setting('JWKS_ENDPOINT', z.url().optional(), "the auth service's JWKS URL; required unless `JWT_PUBLIC_KEY` is given"),
    publicKeyPem: setting(
      'JWT_PUBLIC_KEY',
      z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }).optional(),
      'PEM public key, where no JWKS endpoint exists',
    ),
    issuer: setting('JWT_ISS', z.string().min(1).default('auth-service'), 'expected token issuer'),
    audience: setting('JWT_AUD', z.string().min(1).default('wallet-service'), "this service's audience in tokens"),
    algorithms: setting(
      'JWT_ALGORITHMS',
      commaSeparated('RS256').pipe(
        z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'])).min(1),
      ),
      'accepted signature algorithms, comma-separated; the platform signs RS256 only',
    ),
    clockToleranceSeconds: setting('JWT_CLOCK_TOLERANCE_SECONDS', integer(0, 300).default(30), 'clock skew allowed on token times'),
    jwksRefreshCooldownSeconds: setting(
      'JWKS_REFRESH_COOLDOWN_SECONDS',
      integer(0, 3600).default(30),
      'least time between two key set fetches caused by a token (an unknown key id, or a signature the cached keys refuse)',
    ),
  },
  temporal: {
    address: setting('TEMPORAL_ADDRESS', hostPort.default('127.0.0.1:7233'), "Temporal's frontend, host:port"),
    namespace: setting('TEMPORAL_NAMESPACE', z.string().min(1).default('default'), 'Temporal namespace'),
    taskQueue: setting('TEMPORAL_TASK_QUEUE', z.string().min(1).default('wallet'), "the wallet's task queue"),
    workflowBundlePath: setting(
      'TEMPORAL_WORKFLOW_BUNDLE',
      z.string().min(1).optional(),
      'a workflow bundle built by `npm run build` (`npm start` and `npm run dev` pass `dist/workflow-bundle.js`); unset, the ' +
        'worker bundles the workflows at start',
    ),
    metricsPort: setting(
      'TEMPORAL_METRICS_PORT',
      integer(0, 65535).default(0),
      "local port (127.0.0.1) of the Temporal SDK's Prometheus exporter, whose figures `/metrics` serves too; 0 picks a free " +
        'one. Process-wide: the first service of a process sets it',
    ),
    maxConcurrentActivities: setting(
      'WORKER_MAX_CONCURRENT_ACTIVITIES',
      integer(1, 1000).default(64),
      "concurrent activity executions in this process's Temporal worker",
    ),
    maxCachedWorkflows: setting(
      'WORKER_MAX_CACHED_WORKFLOWS',
      integer(0, 100000).default(150),
      "workflow executions in the worker's sticky cache",
    ),
    maxWorkflowBacklog: setting(
      'BRIDGE_MAX_WORKFLOW_BACKLOG',
      integer(1, 100000).default(300),
      'new transaction executions allowed to wait for a worker; above it the bridge holds its messages, so a burst queues in ' +
        'RabbitMQ rather than as open executions in Temporal',
    ),
    stepTimeoutSeconds: setting(
      'TRANSACTION_STEP_TIMEOUT_SECONDS',
      integer(10, 30 * 24 * 60 * 60).default(7 * 24 * 60 * 60),
      'how long one step of a transaction (a leg, its record, the announcement) retries an infrastructure failure by itself ' +
        'before the transaction waits for an operator (`NeedsOperator`)',
    ),
  },
  wallet: {
    initialBalance: setting(
      'WALLET_INITIAL_BALANCE',
      integer(0, Number.MAX_SAFE_INTEGER).default(0),
      'balance of a wallet created by `user.signup`, minor units',
    ),
    reconciliationIntervalMinutes: setting(
      'RECONCILIATION_INTERVAL_MINUTES',
      integer(0, 7 * 24 * 60).default(60),
      'minutes between scheduled reconciliations; 0 leaves the schedule alone',
    ),
    reconciliationStalledAfterMinutes: setting(
      'RECONCILIATION_STALLED_AFTER_MINUTES',
      integer(1, 30 * 24 * 60).default(60),
      'a transaction not final this long after it opened (or `Failed` and not undone this long after it was decided) fails ' +
        'the reconciliation as stalled',
    ),
    verificationIntervalHours: setting(
      'VERIFICATION_INTERVAL_HOURS',
      integer(0, 90 * 24).default(24),
      "hours between scheduled re-walks of every wallet's hash chain (`ledgerVerification`); 0 leaves the schedule alone",
    ),
    finalizationLogRetentionHours: setting(
      'FINALIZATION_LOG_RETENTION_HOURS',
      integer(1, 366 * 24).default(DEFAULT_FINALIZATION_LOG_RETENTION_HOURS),
      'how long the finalization log keeps that an announcement reached the broker: read only while the announcement may be ' +
        'retried, so it must outlast `TRANSACTION_STEP_TIMEOUT_SECONDS`',
    ),
    amountLimits: {
      topUp: {
        min: setting(
          'TOP_UP_MIN_AMOUNT',
          integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.topUp.min),
          'least amount a top-up may carry, minor units; others are dead-lettered and announced Failed (the transactions ' +
            "service's own limit by default)",
        ),
        max: setting(
          'TOP_UP_MAX_AMOUNT',
          integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.topUp.max),
          'largest amount a top-up may carry',
        ),
      },
      transfer: {
        min: setting(
          'TRANSFER_MIN_AMOUNT',
          integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.transfer.min),
          'least amount a transfer may carry',
        ),
        max: setting(
          'TRANSFER_MAX_AMOUNT',
          integer(1, Number.MAX_SAFE_INTEGER).default(PLATFORM_AMOUNT_LIMITS.transfer.max),
          'largest amount a transfer may carry',
        ),
      },
    },
  },
  statement: {
    maxRangeDays: setting('STATEMENT_MAX_RANGE_DAYS', integer(1, 3660).default(366), 'the longest range a statement may cover'),
    batchSize: setting('STATEMENT_BATCH_SIZE', integer(1, 5000).default(200), 'entries a statement reads (by `_id`) and writes per batch'),
    readConcurrency: setting(
      'STATEMENT_READ_CONCURRENCY',
      integer(1, 64).default(8),
      "reads by `_id` one statement has in flight: statements share the database pool with the ledger's writes",
    ),
    maxConcurrent: setting(
      'STATEMENT_MAX_CONCURRENT',
      integer(1, 1000).default(4),
      'statements streamed at once by a process; more are 503',
    ),
    maxConcurrentPerUser: setting(
      'STATEMENT_MAX_CONCURRENT_PER_USER',
      integer(1, 1000).default(1),
      'statements of one user streamed at once by a process; more are 503',
    ),
    timeoutSeconds: setting(
      'STATEMENT_TIMEOUT_SECONDS',
      integer(1, 3600).default(600),
      'a statement still streaming after this is cut off (the client sees the response fail)',
    ),
  },
  liveUpdates: {
    maxConnections: setting(
      'LIVE_UPDATES_MAX_CONNECTIONS',
      integer(1, 100_000).default(1000),
      'live-update (SSE) connections a process holds at once; more are 503',
    ),
    maxConnectionsPerUser: setting(
      'LIVE_UPDATES_MAX_CONNECTIONS_PER_USER',
      integer(1, 100).default(5),
      'live-update connections of one user at once in a process; more are 503',
    ),
    heartbeatSeconds: setting(
      'LIVE_UPDATES_HEARTBEAT_SECONDS',
      integer(1, 300).default(5),
      "seconds between heartbeat comments on an idle live-update connection: shorter than the read timeout of every proxy in front (the platform's nginx cuts a silent stream after 10 s)",
    ),
    catchUpSeconds: setting(
      'LIVE_UPDATES_CATCH_UP_SECONDS',
      integer(1, 600).default(5),
      'seconds between reads of the ledger per connection without a hint: the safety net for hints lost',
    ),
    retryMs: setting(
      'LIVE_UPDATES_RETRY_MS',
      integer(100, 600_000).default(3000),
      'the reconnection delay a client is told (SSE `retry:`), milliseconds',
    ),
    sendTimeoutSeconds: setting(
      'LIVE_UPDATES_SEND_TIMEOUT_SECONDS',
      integer(1, 600).default(30),
      'a client that takes longer than this to accept an event is disconnected (it resumes by `Last-Event-ID`)',
    ),
    batchSize: setting(
      'LIVE_UPDATES_BATCH_SIZE',
      integer(1, 1000).default(100),
      'entries read and sent per catch-up round on one connection',
    ),
    hintQueueMaxLength: setting(
      'LIVE_UPDATES_HINT_QUEUE_MAX_LENGTH',
      integer(1, 1_000_000).default(10_000),
      "hints of new entries a process's queue holds at most; the oldest are dropped past it",
    ),
  },
  shutdownGraceSeconds: setting(
    'SHUTDOWN_GRACE_SECONDS',
    integer(1, 600).default(20),
    'how long SIGTERM waits for in-flight work before closing connections',
  ),
};

interface SettingsTree {
  [key: string]: Setting | SettingsTree;
}

type ConfigOf<Tree> = { [Key in keyof Tree]: Tree[Key] extends Setting<infer S> ? z.output<S> : ConfigOf<Tree[Key]> };

/** The service's configuration, grouped by what uses it: the shape of SETTINGS, each setting's value in its place. */
export type WalletConfig = ConfigOf<typeof SETTINGS>;

const isSetting = (node: Setting | SettingsTree): node is Setting => node.schema instanceof z.ZodType;

/** Every setting, in the order SETTINGS lists them. */
export function allSettings(tree: SettingsTree = SETTINGS): Setting[] {
  return Object.values(tree).flatMap((node) => (isSetting(node) ? [node] : allSettings(node)));
}

const flatSchema = z.object(Object.fromEntries(allSettings().map((each) => [each.env, each.schema])));

function configFrom(tree: SettingsTree, values: Record<string, unknown>): unknown {
  return Object.fromEntries(
    Object.entries(tree).map(([key, node]) => [key, isSetting(node) ? values[node.env] : configFrom(node, values)]),
  );
}

/** What holds between settings, each broken rule named by the variable to change. */
function inconsistencies(config: WalletConfig, { forService }: { forService: boolean }): string[] {
  const { amountLimits } = config.wallet;
  const rules: Array<[boolean, string]> = [
    [amountLimits.topUp.min > amountLimits.topUp.max, 'TOP_UP_MIN_AMOUNT: must not exceed TOP_UP_MAX_AMOUNT'],
    [amountLimits.transfer.min > amountLimits.transfer.max, 'TRANSFER_MIN_AMOUNT: must not exceed TRANSFER_MAX_AMOUNT'],
    [
      config.wallet.finalizationLogRetentionHours * 3600 <= config.temporal.stepTimeoutSeconds,
      'FINALIZATION_LOG_RETENTION_HOURS: must outlast TRANSACTION_STEP_TIMEOUT_SECONDS: an announcement is retried that long',
    ],
    // The service verifies tokens; the operators' command line reads no token and needs no key.
    [
      forService && config.auth.jwksEndpoint === undefined && config.auth.publicKeyPem === undefined,
      'JWKS_ENDPOINT: JWKS_ENDPOINT is required unless JWT_PUBLIC_KEY is given',
    ],
  ];
  return rules.filter(([broken]) => broken).map(([, message]) => message);
}

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
  const parsed = flatSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const config = configFrom(SETTINGS, parsed.data) as WalletConfig;
  const broken = inconsistencies(config, { forService });
  if (broken.length > 0) throw new ConfigError(broken);
  return config;
}
