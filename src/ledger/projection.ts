import { DOCUMENTS_PER_COMMAND, GroupCommit } from '../database/group-commit';
import { GENESIS_HASH, type WalletHead } from './chain';
import { LedgerInvariantError, WalletNotFoundError } from './errors';
import type { LedgerEntryDocument } from './model';
import type { LedgerStore } from './store';

/**
 * The wallet document: a projection of the wallet's latest ledger entry, copied after every write
 * and rolled forward whenever it is found behind. The ledger is the truth; the document is a cache.
 */
export class WalletProjection {
  /** The head cache: only the projection fills, reads and forgets it. */
  private readonly heads = new WalletHeads();
  /** Concurrent transfers' copies, one command for all those made while another is in flight. */
  private readonly copies: GroupCommit<LedgerEntryDocument, boolean>;

  constructor(private readonly store: LedgerStore) {
    this.copies = new GroupCommit((entries) => store.copyToWallets(entries), DOCUMENTS_PER_COMMAND);
  }

  /** The head a new entry is computed from: the last one this process wrote or verified, else the wallet document's (checked). */
  async headToBuildOn(userId: string): Promise<WalletHead> {
    return this.heads.get(userId) ?? (await this.projectedHead(userId));
  }

  /** An entry this process just wrote: the wallet's head from now on, copied into its document. */
  async written(userId: string, entry: LedgerEntryDocument): Promise<void> {
    this.heads.remember(userId, entry);
    await this.copy(userId, entry);
  }

  /**
   * Brings the wallet document up to its ledger's latest entry and returns that head. Repeats while
   * other writers race it (FerretDB may apply a stale update after a newer one), so the document is
   * current when this returns.
   */
  async rollForward(userId: string): Promise<WalletHead> {
    for (;;) {
      const head = await this.projectedHead(userId);
      const newest = await this.store.newestAfter(userId, head.version);
      if (!newest) return head;
      await this.copy(userId, newest);
    }
  }

  /**
   * The head the wallet document records, checked against the entry it copies: every new entry is
   * computed from it, so a document that disagrees with its ledger must never be built upon. The
   * check reads the entry back unless this process wrote or verified it.
   */
  private async projectedHead(userId: string): Promise<WalletHead> {
    const wallet = await this.store.walletOf(userId, { balance: 1, version: 1 });
    if (!wallet) throw new WalletNotFoundError(userId);
    const known = this.heads.get(userId);
    if (known && known.version === wallet.version && known.balance === wallet.balance) return known;
    const copied = wallet.version === 0 ? null : await this.store.entryAt(userId, wallet.version);
    const expected = copied?.balanceAfter ?? 0;
    if ((wallet.version > 0 && !copied) || wallet.balance !== expected) {
      throw new LedgerInvariantError(
        `wallet of user ${userId} says ${wallet.balance} at version ${wallet.version}, its ledger ${copied ? copied.balanceAfter : 'has no such entry'}`,
      );
    }
    if (copied) this.heads.remember(userId, copied);
    return {
      userId,
      balance: wallet.balance,
      version: wallet.version,
      latestEntryAt: copied?.createdAt ?? null,
      hash: copied ? (copied.hash ?? null) : GENESIS_HASH,
    };
  }

  /**
   * Copies an entry into the wallet document. Where another process raced this one, the document
   * may be left behind: the next change of the wallet (its version claim conflicts) or the
   * reconciliation rolls it forward, and reads look ahead of it meanwhile.
   */
  private async copy(userId: string, entry: LedgerEntryDocument): Promise<void> {
    const [found] = await this.copies.add([entry]);
    // Wallets are never deleted: an entry was written for a wallet whose document has vanished.
    if (!found) {
      this.heads.forget(userId);
      throw new LedgerInvariantError(`wallet of user ${userId} has entries up to version ${entry.version} but no wallet document`);
    }
  }
}

/** Wallet heads remembered at most (oldest forgotten first). */
const MAX_REMEMBERED_HEADS = 10_000;

/**
 * The latest entry this process wrote or verified, per wallet: a true link of the wallet's chain,
 * so the next version can be claimed on it without reading the wallet document first.
 */
class WalletHeads {
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
