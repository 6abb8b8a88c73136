import type { Request, RequestHandler } from 'express';
import { parseCookie } from 'cookie';
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type FetchImplementation,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { WalletConfig } from '../config';
import { HttpError } from './errors';
import { canonicalObjectId } from '../domain';

export const ACCESS_TOKEN_COOKIE = 'access.token';
const MAX_TOKEN_LENGTH = 8_192;

// Remote key set: fetched on first use, cached, fetched again when a token names an unknown kid or
// carries a signature the cached keys do not verify (each at most once per cooldown, except for a
// token issued after the last fetch: see remoteKeySet), each fetch bounded.
const JWKS_FETCH_TIMEOUT_MS = 3_000;
/** Fetches for tokens issued after the last fetch come at most this often; a token in between gets a 503. */
const JWKS_FRESH_LOOK_INTERVAL_MS = 1_000;
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
/** After a fetch of the key set failed, the next waits this long; requests in between use the cache, or get a 503. */
const JWKS_RETRY_AFTER_FAILURE_MS = 1_000;

declare module 'express-serve-static-core' {
  interface Locals {
    /** The authenticated caller: the `user.id` claim of their token. */
    userId?: string;
    /** When the caller's token stops being accepted: its `exp`, plus the clock tolerance. */
    tokenExpiresAt?: Date;
  }
}

/**
 * Verifies the caller's token (the `access.token` cookie or an `Authorization: Bearer` header) as the
 * auth service issues it: signature by the JWKS or configured key, allowed algorithm, issuer,
 * audience, expiry. 401 for any bad token; 503 when the key set cannot be had, since a 401 logs the
 * user out of the web front end.
 */
export function authenticate(config: WalletConfig['auth']): RequestHandler {
  const keys = verificationKeys(config);
  const options: JWTVerifyOptions = {
    algorithms: config.algorithms,
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ['exp'],
  };
  return async (req, res, next) => {
    const token = tokenOf(req);
    if (!token) return next(unauthorized());
    // A configured key that does not import is the operator's mistake: Express logs it as a 500.
    const key = await keys.current();
    let payload: JWTPayload;
    try {
      payload = await verifiedPayload(token, key, keys, options);
    } catch (error) {
      return next(error instanceof KeySetUnavailableError ? authenticationUnavailable(error) : unauthorized());
    }
    const userId = (payload.user as { id?: unknown } | undefined)?.id;
    const canonical = canonicalObjectId(userId);
    if (!canonical) return next(unauthorized());
    res.locals.userId = canonical;
    res.locals.tokenExpiresAt = new Date((payload.exp! + config.clockToleranceSeconds) * 1000);
    next();
  };
}

/**
 * Verifies once, and once more after a signature failure if the keys may have changed: the auth
 * service rotates its key pair under the same kid, which an unknown-kid refresh never notices.
 */
async function verifiedPayload(
  token: string,
  key: VerificationKey,
  keys: VerificationKeys,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, key, options)).payload;
  } catch (error) {
    if (!(error instanceof errors.JWSSignatureVerificationFailed) || !(await keys.refreshed(token))) throw error;
    return (await jwtVerify(token, key, options)).payload;
  }
}

type VerificationKey = JWTVerifyGetKey | CryptoKey;

interface VerificationKeys {
  /** The key, or the key lookup, tokens are verified with. */
  current(): Promise<VerificationKey>;
  /** After `token`'s signature failed: brings the keys up to date; true when verifying again may succeed. */
  refreshed(token: string): Promise<boolean>;
}

function verificationKeys(config: WalletConfig['auth']): VerificationKeys {
  if (config.jwksEndpoint) return remoteKeySet(new URL(config.jwksEndpoint), config.jwksRefreshCooldownSeconds * 1000);
  const pem = config.publicKeyPem!;
  const [algorithm] = config.algorithms;
  let imported: Promise<CryptoKey> | undefined;
  return {
    current: () => (imported ??= importSPKI(pem, algorithm)),
    refreshed: async () => false,
  };
}

/** The key set could not be had (auth service down, timing out, answering non-200 or garbage): not the token's fault. */
class KeySetUnavailableError extends Error {
  constructor(cause: unknown) {
    super('JWKS unavailable', { cause });
    this.name = 'KeySetUnavailableError';
  }
}

/** Lookup failures that are the token's: the key set was had, but holds no one key for its kid and alg. */
function aboutTheToken(error: unknown): boolean {
  return error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys;
}

function remoteKeySet(url: URL, cooldownMs: number): VerificationKeys {
  // jose's cooldown counts successful fetches only: while the auth service is down, every request
  // without the key cached would fetch again. A fetch that fails or answers other than 200 spaces
  // the next one.
  let failedAt = Number.NEGATIVE_INFINITY;
  const fetchSpaced: FetchImplementation = async (href, options) => {
    if (Date.now() - failedAt < JWKS_RETRY_AFTER_FAILURE_MS) throw new Error('the last fetch of the key set failed under a second ago');
    try {
      const response = await fetch(href, options);
      if (response.status !== 200) failedAt = Date.now();
      return response;
    } catch (error) {
      failedAt = Date.now();
      throw error;
    }
  };
  const jwks = createRemoteJWKSet(url, {
    timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
    cooldownDuration: cooldownMs,
    cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
    [customFetch]: fetchSpaced,
  });
  const lookup: JWTVerifyGetKey = async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (error) {
      throw aboutTheToken(error) ? error : new KeySetUnavailableError(error);
    }
  };
  // Our own clock for signature-failure reloads: jose's cooldown counts successful fetches only, and
  // its reload() bypasses it, so a flood of forged tokens would otherwise fetch once each.
  let lastReload: { at: number; done: Promise<void> } | undefined;
  const reload = () => {
    const done = jwks.reload().catch((error: unknown) => {
      throw new KeySetUnavailableError(error);
    });
    lastReload = { at: Date.now(), done };
    return done;
  };
  const refreshed = async (token: string) => {
    const sinceReload = lastReload ? Date.now() - lastReload.at : Infinity;
    if (sinceReload >= cooldownMs) {
      await reload();
      return true;
    }
    // Within the cooldown the key set stays as the last reload left it, except for a token that may
    // have been signed after that reload (a rotation since): whatever made the last reload, such a
    // token gets a fresh look, and while fetches for such tokens are spaced out, a 503 to retry, never
    // the 401 that logs its user out. A failed reload stays a 503 until the cooldown ends: without the
    // key set, a rotated key and a forged one look alike.
    if (issuedAfter(token, lastReload!.at)) {
      if (sinceReload < JWKS_FRESH_LOOK_INTERVAL_MS) throw new KeySetUnavailableError('key set reloaded under a second ago');
      await reload();
      return true;
    }
    await lastReload!.done;
    return true;
  };
  return { current: async () => lookup, refreshed };
}

/** Whether the token says it was issued no earlier than the second of `moment` (iat has whole seconds). */
function issuedAfter(token: string, moment: number): boolean {
  let issuedAt: unknown;
  try {
    issuedAt = decodeJwt(token).iat;
  } catch {
    return false;
  }
  return typeof issuedAt === 'number' && issuedAt >= Math.floor(moment / 1000);
}

function tokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  let token: string | undefined;
  if (header?.startsWith('Bearer ')) token = header.slice('Bearer '.length).trim();
  else if (req.headers.cookie) token = parseCookie(req.headers.cookie)[ACCESS_TOKEN_COOKIE];
  return token && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

/** Keeps the reason for the log; the client learns only that it may retry. */
function authenticationUnavailable(cause: KeySetUnavailableError): HttpError {
  const error = new HttpError(503, 'Authentication temporarily unavailable');
  error.cause = cause;
  return error;
}

function unauthorized(): HttpError {
  return new HttpError(401, 'Unauthorized');
}
