import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const ISSUER = 'auth-service';
export const AUDIENCE = 'wallet-service';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

/**
 * Stands for the auth service: signs tokens the way it does (RS256, kid "main-key", the user object
 * claim, an audience array, one day of validity) and serves its JWKS over real HTTP.
 */
export class TokenIssuer {
  private readonly keys: SigningKey[] = [];
  private server: Server | undefined;
  private port = 0;
  /** The status the JWKS route answers with instead of the key set, to stand for a failing auth service. */
  private failureStatus: number | undefined;
  /** JWKS requests served (or failed) since the issuer was created. */
  jwksRequests = 0;

  static async create(): Promise<TokenIssuer> {
    const issuer = new TokenIssuer();
    await issuer.addKey('main-key');
    return issuer;
  }

  async addKey(kid: string): Promise<SigningKey> {
    const key = await signingKey(kid);
    this.keys.push(key);
    return key;
  }

  /** Replaces the key pair of `kid` with a new one under the same kid, as the auth service does when it restarts. */
  async rotateKey(kid: string): Promise<SigningKey> {
    const index = this.keys.findIndex((k) => k.kid === kid);
    if (index < 0) throw new Error(`no key ${kid}`);
    const key = await signingKey(kid);
    this.keys[index] = key;
    return key;
  }

  /** From now on the JWKS route answers `status` (a 5xx, say); `undefined` serves the key set again. */
  answerJwksWith(status: number | undefined): void {
    this.failureStatus = status;
  }

  key(kid = 'main-key'): SigningKey {
    const found = this.keys.find((k) => k.kid === kid);
    if (!found) throw new Error(`no key ${kid}`);
    return found;
  }

  /** A token as the auth service issues it; `overrides` bend one rule at a time. */
  async token(
    userId: string,
    overrides: {
      kid?: string;
      key?: CryptoKey | Uint8Array;
      issuer?: string;
      audience?: string[];
      expiresIn?: string | number;
      notBefore?: string | number;
      /** Seconds since the epoch; now by default. */
      issuedAt?: number;
      alg?: string;
    } = {},
  ): Promise<string> {
    const jwt = new SignJWT({ user: { id: userId, firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', role: 'user' } })
      .setProtectedHeader({ alg: overrides.alg ?? 'RS256', kid: overrides.kid ?? 'main-key' })
      .setIssuedAt(overrides.issuedAt)
      .setIssuer(overrides.issuer ?? ISSUER)
      .setAudience(overrides.audience ?? ['transactions-service', AUDIENCE])
      .setExpirationTime(overrides.expiresIn ?? '1d');
    if (overrides.notBefore !== undefined) jwt.setNotBefore(overrides.notBefore);
    return jwt.sign(overrides.key ?? this.key(overrides.kid).privateKey);
  }

  get jwksUrl(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  /** Serves the JWKS; after a stop, serves again on the same port. */
  async serve(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      this.jwksRequests++;
      if (this.failureStatus !== undefined) {
        res.writeHead(this.failureStatus, { 'content-type': 'text/plain' }).end('auth service failing');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

/** A JWT with `alg: none`, which must never be accepted. */
export function unsignedToken(userId: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ user: { id: userId }, iss: ISSUER, aud: [AUDIENCE], iat: now, exp: now + 3600 })}.`;
}
