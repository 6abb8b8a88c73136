import type { WalletHead } from './ledger-chain';

/** Wallet heads remembered at most (oldest forgotten first). */
const MAX_REMEMBERED_HEADS = 10_000;

/**
 * The latest entry this process wrote or verified, per wallet: a true link of the wallet's chain,
 * so the next version can be claimed on it without reading the wallet document first.
 */
export class WalletHeads {
  private readonly heads = new Map<string, WalletHead>();

  get(userId: string): WalletHead | undefined {
    return this.heads.get(userId);
  }

  remember(userId: string, entry: { version: number; balanceAfter: number; createdAt: Date; hash?: string }): void {
    this.heads.delete(userId);
    this.heads.set(userId, {
      userId,
      balance: entry.balanceAfter,
      version: entry.version,
      latestEntryAt: entry.createdAt,
      hash: entry.hash ?? null,
    });
    if (this.heads.size > MAX_REMEMBERED_HEADS) this.heads.delete(this.heads.keys().next().value!);
  }

  forget(userId: string): void {
    this.heads.delete(userId);
  }
}
