import type { Request, RequestHandler } from 'express';
import { parseCookie } from 'cookie';
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import type { WalletConfig } from '../config';
import { HttpError } from './http-error';

export const ACCESS_TOKEN_COOKIE = 'access.token';
const OBJECT_ID = /^[0-9a-fA-F]{24}$/;
const MAX_TOKEN_LENGTH = 8_192;

// Remote key set: fetched on first use, cached, fetched again when a token names an unknown kid
// (at most once per cooldown), each fetch bounded.
const JWKS_FETCH_TIMEOUT_MS = 3_000;
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;

declare module 'express-serve-static-core' {
  interface Locals {
    /** The authenticated caller: the `user.id` claim of their token. */
    userId?: string;
  }
}

/**
 * Verifies the caller's token (the `access.token` cookie or an `Authorization: Bearer` header) as the
 * auth service issues it: signature by the JWKS or configured key, allowed algorithm, issuer,
 * audience, expiry. 401 for any bad token; 503 when the key set cannot be fetched.
 */
export function authenticate(config: WalletConfig['auth']): RequestHandler {
  const key = verificationKey(config);
  return async (req, res, next) => {
    const token = tokenOf(req);
    if (!token) return next(unauthorized());
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await key(), {
        algorithms: config.algorithms,
        issuer: config.issuer,
        audience: config.audience,
        clockTolerance: config.clockToleranceSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      return next(keySetUnavailable(error) ? new HttpError(503, 'Authentication temporarily unavailable') : unauthorized());
    }
    const userId = (payload.user as { id?: unknown } | undefined)?.id;
    if (typeof userId !== 'string' || !OBJECT_ID.test(userId)) return next(unauthorized());
    res.locals.userId = userId.toLowerCase();
    next();
  };
}

type KeySource = () => Promise<JWTVerifyGetKey | CryptoKey>;

function verificationKey(config: WalletConfig['auth']): KeySource {
  if (config.jwksEndpoint) {
    const jwks = createRemoteJWKSet(new URL(config.jwksEndpoint), {
      timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
      cooldownDuration: config.jwksRefreshCooldownSeconds * 1000,
      cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
    });
    return async () => jwks;
  }
  const pem = config.publicKeyPem!;
  const [algorithm] = config.algorithms;
  let imported: Promise<CryptoKey> | undefined;
  return () => (imported ??= importSPKI(pem, algorithm!));
}

function tokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  let token: string | undefined;
  if (header?.startsWith('Bearer ')) token = header.slice('Bearer '.length).trim();
  else if (req.headers.cookie) token = parseCookie(req.headers.cookie)[ACCESS_TOKEN_COOKIE];
  return token && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

/** The key set could not be had (auth service down, timing out or answering garbage): not the token's fault. */
function keySetUnavailable(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  return !(error instanceof errors.JOSEError);
}

function unauthorized(): HttpError {
  return new HttpError(401, 'Unauthorized');
}
