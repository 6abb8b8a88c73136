import { LedgerInvariantError } from './errors';
import { balanceAt, type BalanceAtMoment } from './balance-at';
import { entriesAfter, positionAfter, positionBeforeLatest, type FeedPosition } from './entry-feed';
import { toHistoryEntry, type HistoryEntry } from './history-entry';
import { verifyChain } from './ledger-chain';
import type { LedgerEntryDocument } from './ledger-entry.model';
import { latestEntryFrom } from './ledger-head';
import type { LedgerStore } from './ledger-store';
import { openStatement, type StatementRange, type StatementReading, type WalletStatement } from './statement';

export interface WalletView {
  id: string;
  userId: string;
  balance: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** The version below which the next (older) page starts, or null on the last page. */
  nextBeforeVersion: number | null;
}

/**
 * What clients may see of a wallet, read through to its ledger: a balance is always the one the
 * latest ledger entry records, and every page of history is checked as it is read back. Every read
 * is by _id (see keys.ts), so it costs the same however long the ledger grows.
 */
export class WalletReader {
  constructor(private readonly store: LedgerStore) {}

  async walletOf(userId: string): Promise<WalletView | null> {
    const wallet = await this.store.walletOf(userId);
    if (!wallet) return null;
    const head = await this.latestEntry(userId, wallet.version);
    const ahead = head !== null && head.version > wallet.version;
    // Where the document is current, it must say what its entry says.
    if (!ahead && wallet.balance !== (head?.balanceAfter ?? 0)) {
      throw new LedgerInvariantError(`wallet of user ${userId} holds ${wallet.balance}, its ledger ${head?.balanceAfter ?? 0}`);
    }
    return {
      id: wallet._id.toHexString(),
      userId,
      balance: head?.balanceAfter ?? wallet.balance,
      createdAt: wallet.createdAt,
      updatedAt: ahead ? head.createdAt : wallet.updatedAt,
    };
  }

  /** Entries newest first, `limit` at most, strictly below `beforeVersion` when given. */
  async historyOf(userId: string, limit: number, beforeVersion?: number): Promise<HistoryPage> {
    const wallet = await this.store.walletOf(userId, { version: 1 });
    if (!wallet) return { entries: [], nextBeforeVersion: null };
    const latest = (await this.latestEntry(userId, wallet.version))?.version ?? 0;
    const top = Math.min(latest, (beforeVersion ?? Number.POSITIVE_INFINITY) - 1);
    // One entry more than the page: it tells whether an older page exists and anchors the check.
    const versions = Array.from({ length: Math.min(limit + 1, top) }, (_, i) => top - i);
    const found = await Promise.all(versions.map((version) => this.store.entryAt(userId, version)));
    if (found.some((entry) => entry === null)) {
      throw new LedgerInvariantError(`ledger of user ${userId} has a gap below version ${top}`);
    }
    const entries = found as LedgerEntryDocument[];
    const page = entries.slice(0, limit);
    const older = entries[limit];
    verifyChain(userId, [...page].reverse(), older);
    return {
      entries: page.map(toHistoryEntry),
      nextBeforeVersion: older ? page[page.length - 1].version : null,
    };
  }

  /** The balance at a moment (the latest without one); null without a wallet. */
  balanceAt(userId: string, at?: Date): Promise<BalanceAtMoment | null> {
    return balanceAt(this.store, userId, at);
  }

  /** A statement of the entries in `range`, to be read batch by batch; null without a wallet. */
  statementOf(userId: string, range: StatementRange, reading: StatementReading): Promise<WalletStatement | null> {
    return openStatement(this.store, userId, range, reading);
  }

  /** Where a follower of the wallet's entries resumes after `version`, or starts (just before the latest entry). */
  feedPosition(userId: string, afterVersion?: number): Promise<FeedPosition | null | undefined> {
    return afterVersion === undefined ? positionBeforeLatest(this.store, userId) : positionAfter(this.store, userId, afterVersion);
  }

  /** The entries after a follower's position, up to `max`. */
  entriesAfter(userId: string, position: FeedPosition, max: number): Promise<{ entries: HistoryEntry[]; position: FeedPosition }> {
    return entriesAfter(this.store, userId, position, max);
  }

  private latestEntry(userId: string, version: number): Promise<LedgerEntryDocument | null> {
    return latestEntryFrom(this.store, userId, version);
  }
}
