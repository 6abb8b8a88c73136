import { readFileSync } from 'node:fs';
import { CONFIGURATION_DOC, settingsRows } from '../../scripts/configuration-table';
import { ConfigError, loadConfig } from '../../src/config';

const KEY = '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----';

describe('configuration', () => {
  it('uses the platform defaults of CONTRACT.md when only a verification key is given', () => {
    const config = loadConfig({ JWT_PUBLIC_KEY: KEY });
    expect(config.http.port).toBe(4003);
    expect(config.mongo.url).toBe('mongodb://127.0.0.1:27017/mint_wallet');
    expect(config.amqp.url).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(config.auth).toMatchObject({ issuer: 'auth-service', audience: 'wallet-service' });
    expect(config.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'wallet' });
    expect(config.wallet.initialBalance).toBe(0);
  });

  it('bounds statements and live updates by default', () => {
    const config = loadConfig({ JWT_PUBLIC_KEY: KEY });
    expect(config.statement).toEqual({
      maxRangeDays: 366,
      batchSize: 200,
      readConcurrency: 8,
      maxConcurrent: 4,
      maxConcurrentPerUser: 1,
      timeoutSeconds: 600,
    });
    expect(config.liveUpdates).toEqual({
      maxConnections: 1000,
      maxConnectionsPerUser: 5,
      heartbeatSeconds: 5,
      catchUpSeconds: 5,
      retryMs: 3000,
      sendTimeoutSeconds: 30,
      batchSize: 100,
      hintQueueMaxLength: 10_000,
    });
  });

  it('keeps an idle live-update stream alive through a gateway that cuts silent streams after 10 s', () => {
    const platformNginxReadTimeoutSeconds = 10;
    expect(loadConfig({ JWT_PUBLIC_KEY: KEY }).liveUpdates.heartbeatSeconds).toBeLessThan(platformNginxReadTimeoutSeconds);
  });

  it('requires JWKS_ENDPOINT unless JWT_PUBLIC_KEY is given', () => {
    expect(() => loadConfig({})).toThrow(/JWKS_ENDPOINT/);
    expect(loadConfig({ JWKS_ENDPOINT: 'http://auth:4001/.well-known/jwks.json' }).auth.jwksEndpoint).toBe(
      'http://auth:4001/.well-known/jwks.json',
    );
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'postgres://db/mint_wallet'],
    ['RABBITMQ_URL', 'http://broker'],
    ['TEMPORAL_ADDRESS', 'temporal'],
    ['WALLET_INITIAL_BALANCE', '-1'],
    ['WALLET_INITIAL_BALANCE', '1.5'],
    ['AMQP_PREFETCH', '0'],
    ['STATEMENT_MAX_RANGE_DAYS', '0'],
    ['LIVE_UPDATES_HEARTBEAT_SECONDS', '0'],
    ['LIVE_UPDATES_MAX_CONNECTIONS_PER_USER', 'many'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ JWT_PUBLIC_KEY: KEY, [name]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(name);
  });

  it('trusts no proxy unless TRUST_PROXY says so', () => {
    expect(loadConfig({ JWT_PUBLIC_KEY: KEY }).http.trustProxy).toBe(false);
  });

  it.each<[string, boolean | number | string[]]>([
    ['false', false],
    ['true', true],
    ['0', 0],
    ['2', 2],
    ['10', 10],
    ['loopback', ['loopback']],
    ['loopback, 10.0.0.0/8,192.0.2.1, fd00::/8, uniquelocal', ['loopback', '10.0.0.0/8', '192.0.2.1', 'fd00::/8', 'uniquelocal']],
  ])('reads TRUST_PROXY=%s as Express trust proxy %p', (value, expected) => {
    expect(loadConfig({ JWT_PUBLIC_KEY: KEY, TRUST_PROXY: value }).http.trustProxy).toEqual(expected);
  });

  it.each(['11', '-1', '1.5', 'yes', 'everyone', '10.0.0.0/33', '300.1.1.1', 'loopback,,evil', '*'])(
    'rejects TRUST_PROXY=%s with a message naming the variable',
    (value) => {
      expect(() => loadConfig({ JWT_PUBLIC_KEY: KEY, TRUST_PROXY: value })).toThrow(/TRUST_PROXY/);
    },
  );

  it.each<[Record<string, string>, RegExp]>([
    [{ TOP_UP_MIN_AMOUNT: '10', TOP_UP_MAX_AMOUNT: '9' }, /TOP_UP_MIN_AMOUNT: must not exceed TOP_UP_MAX_AMOUNT/],
    [{ TRANSFER_MIN_AMOUNT: '10', TRANSFER_MAX_AMOUNT: '9' }, /TRANSFER_MIN_AMOUNT: must not exceed TRANSFER_MAX_AMOUNT/],
    [
      { FINALIZATION_LOG_RETENTION_HOURS: '48', TRANSACTION_STEP_TIMEOUT_SECONDS: String(48 * 3600) },
      /FINALIZATION_LOG_RETENTION_HOURS: must outlast/,
    ],
  ])('refuses settings that contradict each other: %p', (env, message) => {
    expect(() => loadConfig({ JWT_PUBLIC_KEY: KEY, ...env })).toThrow(message);
  });

  it('accepts the edges of those rules: a minimum equal to its maximum, a retention an hour longer than the step timeout', () => {
    const config = loadConfig({
      JWT_PUBLIC_KEY: KEY,
      TOP_UP_MIN_AMOUNT: '9',
      TOP_UP_MAX_AMOUNT: '9',
      FINALIZATION_LOG_RETENTION_HOURS: '49',
      TRANSACTION_STEP_TIMEOUT_SECONDS: String(48 * 3600),
    });
    expect(config.wallet.amountLimits.topUp).toEqual({ min: 9, max: 9 });
    expect(config.wallet.finalizationLogRetentionHours).toBe(49);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ JWT_PUBLIC_KEY: KEY, PORT: '' }).http.port).toBe(4003);
  });
});

describe('docs/configuration.md', () => {
  it('lists every setting with the meaning and default src/config.ts declares (npm run docs:config writes the table)', () => {
    const documented = readFileSync(CONFIGURATION_DOC, 'utf8')
      .split('\n')
      .filter((line) => /^\| `[A-Z]/.test(line))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    expect(documented).toEqual(settingsRows());
  });
});
