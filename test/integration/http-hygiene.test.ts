import { Writable } from 'node:stream';
import type { Express } from 'express';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { createHttpApp } from '../../src/http/app';
import type { ReadinessCheck } from '../../src/http/health';
import type { WalletReader } from '../../src/ledger';
import { LiveEntryHub } from '../../src/live-updates/live-entry-hub';
import { createMetrics } from '../../src/metrics';
import { objectId } from '../support/ids';
import { TokenIssuer } from '../support/token-issuer';
import { ServiceStartingError } from '../../src/http/errors';
import { availableLater } from '../../src/support/available-later';

/** The HTTP app on its own (no database behind it), with its log lines captured. */
const ALL_UP: Record<string, ReadinessCheck> = {
  mongodb: async () => undefined,
  rabbitmq: async () => undefined,
  temporal: async () => undefined,
};

function appWith(env: Record<string, string>, reader?: Partial<WalletReader>, readinessChecks = ALL_UP) {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info', redact: ['req.headers.authorization', 'req.headers.cookie'] },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const config = loadConfig(env);
  const metrics = createMetrics();
  const app = createHttpApp({
    config,
    logger,
    metrics,
    readinessChecks,
    reads: availableLater(
      () => reader as WalletReader | undefined,
      () => new ServiceStartingError(),
    ),
    liveUpdates: new LiveEntryHub(config.liveUpdates, reader as WalletReader, metrics, logger, () => undefined),
  });
  return { app, lines };
}

/** The routes the Express app answers, as "get /path". */
function servedRoutes(app: Express): string[] {
  const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router
    .stack;
  return stack.flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((method) => `${method} ${layer.route!.path}`) : []));
}

describe('HTTP hygiene', () => {
  let issuer: TokenIssuer;
  let env: Record<string, string>;

  beforeAll(async () => {
    issuer = await TokenIssuer.create();
    env = { JWT_PUBLIC_KEY: issuer.key().publicPem };
  });

  it('describes exactly the routes it serves in its OpenAPI 3.1 document', async () => {
    const { app } = appWith(env);
    const response = await request(app).get('/openapi.json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    const documented = Object.entries(response.body.paths as Record<string, object>).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    expect(servedRoutes(app).sort()).toEqual(documented.sort());
  });

  it('documents each query parameter as the schema that checks it: type, bounds, default and whether it is required', async () => {
    const { app } = appWith(env);
    const { paths } = (await request(app).get('/openapi.json')).body;
    const parameters = (path: string) =>
      Object.fromEntries(
        (paths[path].get.parameters as Array<{ name: string; in: string; required: boolean; schema: object }>).map((p) => [
          `${p.in} ${p.name}`,
          { required: p.required, ...p.schema },
        ]),
      );
    expect(parameters('/api/v1/wallet/user/transactions')).toEqual({
      'query limit': { required: false, type: 'integer', minimum: 1, maximum: 100, default: 20 },
      'query cursor': { required: false, type: 'string', maxLength: 64 },
    });
    expect(parameters('/api/v1/wallet/user/balance')).toEqual({ 'query at': { required: false, type: 'string' } });
    expect(parameters('/api/v1/wallet/user/statement')).toEqual({
      'query from': { required: true, type: 'string' },
      'query to': { required: true, type: 'string' },
      'query format': { required: false, type: 'string', enum: ['json', 'csv'], default: 'json' },
    });
    expect(parameters('/api/v1/wallet/user/events')).toEqual({
      'header Last-Event-ID': { required: false, type: 'string', pattern: '^[0-9]+$' },
      'query lastEventId': { required: false, type: 'string', pattern: '^[0-9]+$' },
    });
  });

  it('states the limits this deployment is configured with: the statement range and the live-update heartbeat', async () => {
    const { app } = appWith({ ...env, STATEMENT_MAX_RANGE_DAYS: '31', LIVE_UPDATES_HEARTBEAT_SECONDS: '7' });
    const { paths } = (await request(app).get('/openapi.json')).body;
    expect(paths['/api/v1/wallet/user/statement'].get.description).toMatch(/at most 31 days/);
    expect(paths['/api/v1/wallet/user/statement'].get.responses['400'].description).toMatch(/a range over 31 days/);
    expect(paths['/api/v1/wallet/user/events'].get.description).toMatch(/comment comes every 7 s\./);
  });

  it('serves a documentation page at /api-docs with its assets', async () => {
    const { app } = appWith(env);
    const page = await request(app).get('/api-docs').redirects(1);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('swagger-ui');
    expect((await request(app).get('/api-docs/swagger-ui-bundle.js')).status).toBe(200);
  });

  it('answers malformed and oversized JSON bodies with 4xx JSON errors', async () => {
    const { app } = appWith(env);
    const malformed = await request(app).post('/api/v1/wallet/user').set('Content-Type', 'application/json').send('{"a":');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({ error: { message: expect.any(String), status: 400 } });
    const oversized = await request(app)
      .post('/api/v1/wallet/user')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ padding: 'x'.repeat(20_000) }));
    expect(oversized.status).toBe(413);
    expect(oversized.body).toEqual({ error: { message: expect.any(String), status: 413 } });
  });

  it('answers unknown routes and methods with a JSON 404', async () => {
    const { app } = appWith(env);
    for (const call of [request(app).get('/nope'), request(app).delete('/api/v1/wallet/user')]) {
      const response = await call;
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ error: { message: 'Not found', status: 404 } });
    }
  });

  it.each(['production', 'development'])('hides internal failures behind a generic 500 with NODE_ENV=%s', async (nodeEnv) => {
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = nodeEnv; // Express reads it, for its own error pages
    try {
      const { app } = appWith(env, {
        walletOf: async () => {
          throw new Error('connection string mongodb://admin:secret@db');
        },
      });
      const response = await request(app)
        .get('/api/v1/wallet/user')
        .set('Authorization', `Bearer ${await issuer.token(objectId())}`);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ error: { message: 'Internal server error', status: 500 } });
      expect(response.text).not.toContain('secret');
    } finally {
      process.env.NODE_ENV = before;
    }
  });

  it('answers 503 for reads until the database is connected', async () => {
    const { app } = appWith(env);
    const response = await request(app)
      .get('/api/v1/wallet/user')
      .set('Authorization', `Bearer ${await issuer.token(objectId())}`);
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ error: { message: 'Service starting; retry shortly', status: 503 } });
  });

  it('answers a live-update stream opened before the database is connected with an empty stream the browser retries', async () => {
    // An EventSource gives up for good on an error status; a reconnect that lands on a replica still starting must not.
    const { app } = appWith(env);
    const response = await request(app)
      .get('/api/v1/wallet/user/events')
      .set('Authorization', `Bearer ${await issuer.token(objectId())}`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(response.text).toMatch(/^retry: \d+\n\n$/);
  });

  it('sends security headers', async () => {
    const { app } = appWith(env);
    const response = await request(app).get('/health');
    expect(response.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'strict-transport-security': expect.stringContaining('max-age='),
      'content-security-policy': expect.stringContaining("default-src 'self'"),
    });
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  it('allows cross-origin reads with credentials from configured origins only', async () => {
    const { app } = appWith({ ...env, CORS_ORIGINS: 'https://wallet.example.com' });
    const allowed = await request(app)
      .options('/api/v1/wallet/user')
      .set('Origin', 'https://wallet.example.com')
      .set('Access-Control-Request-Method', 'GET');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://wallet.example.com');
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    const other = await request(app).get('/api/v1/wallet/user').set('Origin', 'https://evil.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rate-limits API calls per client but never health, readiness or metrics', async () => {
    const { app } = appWith({ ...env, RATE_LIMIT_PER_MINUTE: '3' });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(app).get('/api/v1/wallet/user')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const limited = await request(app).get('/api/v1/wallet/user');
    expect(limited.body).toEqual({ error: { message: 'Too many requests', status: 429 } });
    for (const path of ['/health', '/ready', '/metrics', '/health', '/ready', '/metrics']) {
      expect((await request(app).get(path)).status).toBe(200);
    }
  });

  it.each(['1', 'loopback'])('gives each client behind a trusted proxy its own rate-limit bucket (TRUST_PROXY=%s)', async (trustProxy) => {
    const { app } = appWith({ ...env, RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: trustProxy });
    const statuses = [];
    for (const client of ['203.0.113.7', '203.0.113.7', '198.51.100.9']) {
      statuses.push((await request(app).get('/api/v1/wallet/user').set('X-Forwarded-For', client)).status);
    }
    expect(statuses).toEqual([401, 401, 401]);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY: every caller through one proxy shares its bucket', async () => {
    const { app } = appWith({ ...env, RATE_LIMIT_PER_MINUTE: '2' });
    const statuses = [];
    for (const client of ['203.0.113.7', '203.0.113.7', '198.51.100.9']) {
      statuses.push((await request(app).get('/api/v1/wallet/user').set('X-Forwarded-For', client)).status);
    }
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('names the dependency that is down on /ready, with its error text in the log only', async () => {
    const failure = 'connect ECONNREFUSED amqp://wallet:s3cret-passw0rd@broker.internal:5672';
    const { app, lines } = appWith(env, undefined, {
      ...ALL_UP,
      rabbitmq: async () => {
        throw new Error(failure);
      },
    });
    const response = await request(app).get('/ready');
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: 'unavailable', checks: { mongodb: 'up', rabbitmq: 'down', temporal: 'up' } });
    expect(response.text).not.toContain('s3cret');
    expect(response.text).not.toContain('broker.internal');
    const logged = lines.map((line) => JSON.parse(line) as { check?: string; err?: { message?: string } });
    expect(logged).toContainEqual(expect.objectContaining({ check: 'rabbitmq', err: expect.objectContaining({ message: failure }) }));
  });

  it('logs each request with a request id, never the token or cookie', async () => {
    const { app, lines } = appWith(env);
    const token = await issuer.token(objectId());
    const response = await request(app)
      .get('/api/v1/wallet/user/transactions?limit=5')
      .set('Cookie', `access.token=${token}`)
      .set('Authorization', `Bearer ${token}`)
      .set('X-Request-Id', 'req-123');
    expect(response.headers['x-request-id']).toBe('req-123');
    const generated = await request(app).get('/nope');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const log = lines.join('');
    expect(log).toContain('"id":"req-123"');
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.split('.')[2]);
  });

  it('logs what an operator needs of each request (id, method, route, status, time, user), never its headers', async () => {
    const user = objectId();
    const { app, lines } = appWith(env, { walletOf: async (userId: string) => ({ id: objectId(), userId, balance: 0 }) as never });
    await request(app)
      .get('/api/v1/wallet/user')
      .set('Authorization', `Bearer ${await issuer.token(user)}`)
      .set('X-Request-Id', 'req-456')
      .expect(200);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown> & { req?: { id?: string } });
    const line = logged.find((entry) => entry.req?.id === 'req-456');
    expect(line).toMatchObject({
      req: { id: 'req-456', method: 'GET', url: '/api/v1/wallet/user' },
      route: '/api/v1/wallet/user',
      status: 200,
      user,
      responseTime: expect.any(Number),
    });
    expect(line).not.toHaveProperty('res');
    expect(JSON.stringify(line).length).toBeLessThan(400);
  });
});
