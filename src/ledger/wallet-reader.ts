import type { Leg, TransactionType } from '../domain/transaction';
import type { Database } from '../persistence/mongo';
import { ledgerEntryIdOf, walletIdOf } from '../persistence/keys';
import type { LedgerEntryDocument } from '../persistence/ledger-entry.model';
import { LedgerInvariantError } from './errors';
import { verifyChain } from './ledger-chain';

// Entries a read looks ahead of the wallet document (which may lag its ledger by a write in flight).
const MAX_LOOK_AHEAD = 100;

export interface WalletView {
  id: string;
  userId: string;
  balance: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface HistoryEntry {
  transactionId: string | null;
  type: TransactionType | null;
  leg: Leg;
  amount: number;
  balanceAfter: number;
  version: number;
  counterpartyUserId: string | null;
  createdAt: Date;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** The version below which the next (older) page starts, or null on the last page. */
  nextBeforeVersion: number | null;
}

/**
 * What clients may see of a wallet, read through to its ledger: a balance is always the one the
 * latest ledger entry records, and every page of history is checked as it is read back. Every read
 * is by _id (see persistence/keys), so it costs the same however long the ledger grows.
 */
export class WalletReader {
  constructor(private readonly db: Database) {}

  async walletOf(userId: string): Promise<WalletView | null> {
    const wallet = await this.db.wallets.findById(walletIdOf(userId)).lean().exec();
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
    const wallet = await this.db.wallets.findById(walletIdOf(userId), { version: 1 }).lean().exec();
    if (!wallet) return { entries: [], nextBeforeVersion: null };
    const latest = (await this.latestEntry(userId, wallet.version))?.version ?? 0;
    const top = Math.min(latest, (beforeVersion ?? Number.POSITIVE_INFINITY) - 1);
    // One entry more than the page: it tells whether an older page exists and anchors the check.
    const versions = Array.from({ length: Math.min(limit + 1, top) }, (_, i) => top - i);
    const found = await Promise.all(versions.map((version) => this.entryAt(userId, version)));
    if (found.some((entry) => entry === null)) {
      throw new LedgerInvariantError(`ledger of user ${userId} has a gap below version ${top}`);
    }
    const entries = found as LedgerEntryDocument[];
    const page = entries.slice(0, limit);
    const older = entries[limit];
    verifyChain(userId, [...page].reverse(), older);
    return {
      entries: page.map(toHistoryEntry),
      nextBeforeVersion: older ? page[page.length - 1]!.version : null,
    };
  }

  /** The entry at `version` or the newest beyond it; null for a wallet without entries. */
  private async latestEntry(userId: string, version: number): Promise<LedgerEntryDocument | null> {
    let latest = version > 0 ? await this.entryAt(userId, version) : null;
    if (version > 0 && !latest) throw new LedgerInvariantError(`wallet of user ${userId} is at version ${version}, which its ledger lacks`);
    for (let ahead = 1; ahead <= MAX_LOOK_AHEAD; ahead++) {
      const next = await this.entryAt(userId, version + ahead);
      if (!next) break;
      latest = next;
    }
    return latest;
  }

  private entryAt(userId: string, version: number) {
    return this.db.ledgerEntries.findById(ledgerEntryIdOf(userId, version)).lean<LedgerEntryDocument>().exec();
  }
}

function toHistoryEntry(entry: LedgerEntryDocument): HistoryEntry {
  return {
    transactionId: entry.transactionId?.toHexString() ?? null,
    type: entry.transactionType,
    leg: entry.leg,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    version: entry.version,
    counterpartyUserId: entry.counterpartyUserId?.toHexString() ?? null,
    createdAt: entry.createdAt,
  };
}
