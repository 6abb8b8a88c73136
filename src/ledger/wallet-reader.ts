import { Types } from 'mongoose';
import type { Leg, TransactionType } from '../domain/transaction';
import type { Database } from '../persistence/mongo';
import type { LedgerEntryDocument } from '../persistence/ledger-entry.model';
import { LedgerInvariantError } from './errors';
import { verifyChain } from './ledger-chain';

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
 * latest ledger entry records, and every page of history is checked as it is read back.
 */
export class WalletReader {
  constructor(private readonly db: Database) {}

  async walletOf(userId: string): Promise<WalletView | null> {
    const user = new Types.ObjectId(userId);
    const [wallet, latest] = await Promise.all([
      this.db.wallets.findOne({ userId: user }).lean().exec(),
      this.db.ledgerEntries.findOne({ userId: user }).sort({ version: -1 }).lean<LedgerEntryDocument>().exec(),
    ]);
    if (!wallet) return null;
    const ledgerVersion = latest?.version ?? 0;
    if (wallet.version > ledgerVersion) {
      throw new LedgerInvariantError(`wallet of user ${userId} is at version ${wallet.version}, its ledger at ${ledgerVersion}`);
    }
    if (latest && wallet.version === latest.version && wallet.balance !== latest.balanceAfter) {
      throw new LedgerInvariantError(`wallet of user ${userId} holds ${wallet.balance}, its ledger ${latest.balanceAfter}`);
    }
    // The projection may lag its ledger by an entry being rolled forward; the ledger wins.
    const ahead = latest !== null && latest.version > wallet.version;
    return {
      id: wallet._id.toHexString(),
      userId,
      balance: latest ? latest.balanceAfter : wallet.balance,
      createdAt: wallet.createdAt,
      updatedAt: ahead ? latest.createdAt : wallet.updatedAt,
    };
  }

  /** Entries newest first, `limit` at most, strictly below `beforeVersion` when given. */
  async historyOf(userId: string, limit: number, beforeVersion?: number): Promise<HistoryPage> {
    const filter: Record<string, unknown> = { userId: new Types.ObjectId(userId) };
    if (beforeVersion !== undefined) filter.version = { $lt: beforeVersion };
    // One entry more than the page: it tells whether an older page exists and anchors the check.
    const found = await this.db.ledgerEntries
      .find(filter)
      .sort({ version: -1 })
      .limit(limit + 1)
      .lean<LedgerEntryDocument[]>()
      .exec();
    const page = found.slice(0, limit);
    const older = found[limit];
    verifyChain(userId, [...page].reverse(), older);
    return {
      entries: page.map(toHistoryEntry),
      nextBeforeVersion: older ? page[page.length - 1]!.version : null,
    };
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
