// What the read-side scenarios need to call the service's API as a user: a key pair the service
// verifies tokens with, and tokens shaped as the auth service issues them.
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

export class BenchTokens {
  private constructor(
    private readonly privateKey: CryptoKey,
    /** JWT_PUBLIC_KEY for the service under test. */
    readonly publicKeyPem: string,
  ) {}

  static async create(): Promise<BenchTokens> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    return new BenchTokens(privateKey, await exportSPKI(publicKey));
  }

  token(userId: string): Promise<string> {
    return new SignJWT({ user: { id: userId, role: 'user' } })
      .setProtectedHeader({ alg: 'RS256', kid: 'main-key' })
      .setIssuedAt()
      .setIssuer('auth-service')
      .setAudience(['wallet-service'])
      .setExpirationTime('1d')
      .sign(this.privateKey);
  }
}
