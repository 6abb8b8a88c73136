import express from 'express';
import request from 'supertest';
import { generateKeyPair } from 'jose';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { authenticate } from '../../src/http/authentication';
import { errorHandler } from '../../src/http/errors';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { AUDIENCE, ISSUER, TokenIssuer, unsignedToken } from '../support/token-issuer';

const UNAUTHORIZED = { error: { message: 'Unauthorized', status: 401 } };
const UNAVAILABLE = { error: { message: 'Authentication temporarily unavailable', status: 503 } };

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** After a failed fetch the key set is fetched again a second later at the earliest: until then, 503. */
const recovered = (app: express.Express, token: () => Promise<string>) =>
  eventually('authentication to recover', async () =>
    (
      await request(app)
        .get('/whoami')
        .set(bearer(await token()))
    ).status === 200
      ? true
      : undefined,
  );

/** An app whose one route answers with the caller that authentication established. */
function appVerifyingWith(env: Record<string, string>) {
  const config = loadConfig({ JWT_ISS: ISSUER, JWT_AUD: AUDIENCE, ...env });
  const app = express();
  app.get('/whoami', authenticate(config.auth), (_req, res) => {
    res.json({ userId: res.locals.userId });
  });
  app.use(errorHandler(createLogger('silent')));
  return app;
}

describe('authentication with the auth service JWKS', () => {
  let issuer: TokenIssuer;
  let app: express.Express;
  const user = objectId();

  beforeAll(async () => {
    issuer = await TokenIssuer.create();
    await issuer.serve();
    app = appVerifyingWith({ JWKS_ENDPOINT: issuer.jwksUrl, JWKS_REFRESH_COOLDOWN_SECONDS: '0' });
  });
  afterAll(async () => {
    await issuer.stop();
  });

  it('accepts the token from the access.token cookie', async () => {
    const response = await request(app)
      .get('/whoami')
      .set('Cookie', `access.token=${await issuer.token(user)}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ userId: user });
  });

  it('accepts the token from an Authorization: Bearer header', async () => {
    const response = await request(app)
      .get('/whoami')
      .set('Authorization', `Bearer ${await issuer.token(user)}`);
    expect(response.body).toEqual({ userId: user });
  });

  const rejected: Array<[string, () => Promise<string | undefined>]> = [
    ['no token', async () => undefined],
    ['a malformed token', async () => 'not.a.jwt'],
    ['a bad signature', async () => issuer.token(user, { key: (await generateKeyPair('RS256')).privateKey })],
    ['an unknown kid', async () => issuer.token(user, { kid: 'unknown-key', key: issuer.key().privateKey })],
    ['an expired token', async () => issuer.token(user, { expiresIn: Math.floor(Date.now() / 1000) - 3600 })],
    ['a token not yet valid', async () => issuer.token(user, { notBefore: Math.floor(Date.now() / 1000) + 3600 })],
    ['the wrong issuer', async () => issuer.token(user, { issuer: 'someone-else' })],
    ['the wrong audience', async () => issuer.token(user, { audience: ['transactions-service'] })],
    ['alg none', async () => unsignedToken(user)],
    [
      'HS256 signed with the public key as secret',
      async () => issuer.token(user, { alg: 'HS256', key: new TextEncoder().encode(issuer.key().publicPem) }),
    ],
    ['a user.id that is not an ObjectId', async () => issuer.token('not-an-object-id')],
  ];

  it.each(rejected)('answers 401 for %s', async (_case, token) => {
    const value = await token();
    const call = request(app).get('/whoami');
    const response = await (value === undefined ? call : call.set('Authorization', `Bearer ${value}`));
    expect(response.status).toBe(401);
    expect(response.body).toEqual(UNAUTHORIZED);
  });

  it('fetches the key set again when a token names a key it has not seen (rotation)', async () => {
    await request(app)
      .get('/whoami')
      .set('Authorization', `Bearer ${await issuer.token(user)}`)
      .expect(200);
    await issuer.addKey('next-key');
    const response = await request(app)
      .get('/whoami')
      .set('Authorization', `Bearer ${await issuer.token(user, { kid: 'next-key' })}`);
    expect(response.body).toEqual({ userId: user });
  });

  it('accepts tokens signed with the new key pair the auth service serves under the same kid', async () => {
    await request(app)
      .get('/whoami')
      .set(bearer(await issuer.token(user)))
      .expect(200);
    await issuer.rotateKey('main-key');
    const response = await request(app)
      .get('/whoami')
      .set(bearer(await issuer.token(user)));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ userId: user });
    const forged = await issuer.token(user, { key: (await generateKeyPair('RS256')).privateKey });
    await request(app).get('/whoami').set(bearer(forged)).expect(401, UNAUTHORIZED);
  });

  it('fetches the key set again for a signature it cannot verify at most once per cooldown', async () => {
    const guarded = appVerifyingWith({ JWKS_ENDPOINT: issuer.jwksUrl, JWKS_REFRESH_COOLDOWN_SECONDS: '3600' });
    const aMinuteAgo = Math.floor(Date.now() / 1000) - 60;
    const forged = async () => issuer.token(user, { key: (await generateKeyPair('RS256')).privateKey, issuedAt: aMinuteAgo });
    const before = issuer.jwksRequests;
    await request(guarded)
      .get('/whoami')
      .set(bearer(await issuer.token(user)))
      .expect(200);
    expect(issuer.jwksRequests - before).toBe(1);
    await request(guarded)
      .get('/whoami')
      .set(bearer(await forged()))
      .expect(401, UNAUTHORIZED);
    expect(issuer.jwksRequests - before).toBe(2);
    for (let i = 0; i < 3; i++)
      await request(guarded)
        .get('/whoami')
        .set(bearer(await forged()))
        .expect(401, UNAUTHORIZED);
    expect(issuer.jwksRequests - before).toBe(2);
  });

  it('gives a token issued after the last fetch a fresh look within the cooldown: a 503 to retry, never a 401', async () => {
    const rotating = await TokenIssuer.create();
    await rotating.serve();
    try {
      const guarded = appVerifyingWith({ JWKS_ENDPOINT: rotating.jwksUrl, JWKS_REFRESH_COOLDOWN_SECONDS: '3600' });
      await request(guarded)
        .get('/whoami')
        .set(bearer(await rotating.token(user)))
        .expect(200);
      // A bad signature uses up the cooldown's one reload just before the auth service rotates.
      const forged = await rotating.token(user, { key: (await generateKeyPair('RS256')).privateKey });
      await request(guarded).get('/whoami').set(bearer(forged)).expect(401, UNAUTHORIZED);
      const fetchesBefore = rotating.jwksRequests;
      await rotating.rotateKey('main-key');
      const genuine = await rotating.token(user);

      const statuses: number[] = [];
      await eventually(
        'the new token accepted',
        async () => {
          const response = await request(guarded).get('/whoami').set(bearer(genuine));
          statuses.push(response.status);
          return response.status === 200 || response.status === 401 ? true : undefined;
        },
        5_000,
      );
      expect(statuses.at(-1)).toBe(200);
      expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
      // Fetches for new tokens are spaced out: one per second at most, however often the client retried.
      expect(rotating.jwksRequests - fetchesBefore).toBeLessThanOrEqual(2);
    } finally {
      await rotating.stop();
    }
  });

  it('answers 503, not 401, while the key set answers 500, and recovers after', async () => {
    const fresh = appVerifyingWith({ JWKS_ENDPOINT: issuer.jwksUrl });
    const token = await issuer.token(user);
    issuer.answerJwksWith(500);
    try {
      await request(fresh).get('/whoami').set(bearer(token)).expect(503, UNAVAILABLE);
    } finally {
      issuer.answerJwksWith(undefined);
    }
    await recovered(fresh, async () => token);
  });

  it('fetches a key set it cannot have at most once a second, answering 503 in between, and recovers after', async () => {
    const fresh = appVerifyingWith({ JWKS_ENDPOINT: issuer.jwksUrl });
    const token = await issuer.token(user);
    issuer.answerJwksWith(500);
    const fetchesBefore = issuer.jwksRequests;
    const started = Date.now();
    try {
      for (let i = 0; i < 20; i++) await request(fresh).get('/whoami').set(bearer(token)).expect(503, UNAVAILABLE);
    } finally {
      issuer.answerJwksWith(undefined);
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);
    expect(issuer.jwksRequests - fetchesBefore).toBeLessThanOrEqual(seconds + 1);
    await recovered(fresh, async () => token);
  });

  it('answers 503, not 401, for a signature the cached keys cannot verify while the key set answers 500', async () => {
    const cached = appVerifyingWith({ JWKS_ENDPOINT: issuer.jwksUrl, JWKS_REFRESH_COOLDOWN_SECONDS: '0' });
    await request(cached)
      .get('/whoami')
      .set(bearer(await issuer.token(user)))
      .expect(200);
    await issuer.rotateKey('main-key');
    issuer.answerJwksWith(500);
    try {
      await request(cached)
        .get('/whoami')
        .set(bearer(await issuer.token(user)))
        .expect(503, UNAVAILABLE);
    } finally {
      issuer.answerJwksWith(undefined);
    }
    await recovered(cached, () => issuer.token(user));
  });

  it('answers 503, not 401, while the key set cannot be fetched, and recovers after', async () => {
    const fresh = appVerifyingWith({ JWKS_ENDPOINT: issuer.jwksUrl });
    const token = await issuer.token(user);
    await issuer.stop();
    try {
      const response = await request(fresh).get('/whoami').set('Authorization', `Bearer ${token}`);
      expect(response.status).toBe(503);
      expect(response.body).toEqual(UNAVAILABLE);
    } finally {
      await issuer.serve();
    }
    await recovered(fresh, async () => token);
  });
});

describe('authentication with a configured public key', () => {
  it('verifies RS256 tokens against JWT_PUBLIC_KEY and still rejects others', async () => {
    const issuer = await TokenIssuer.create();
    const app = appVerifyingWith({ JWT_PUBLIC_KEY: issuer.key().publicPem });
    const user = objectId();
    await request(app)
      .get('/whoami')
      .set('Cookie', `access.token=${await issuer.token(user)}`)
      .expect(200, { userId: user });
    await request(app)
      .get('/whoami')
      .set('Cookie', `access.token=${await issuer.token(user, { issuer: 'x' })}`)
      .expect(401, UNAUTHORIZED);
  });
});
