// A ledger written straight to the store with the ledger's own arithmetic (not through Temporal):
// the large ledgers the reconciliation and statement scenarios measure.
import { Types } from 'mongoose';
import type { Leg, TransactionType } from '../../src/domain';
import {
  ledgerEntryIdOf,
  walletIdOf,
  type LedgerEntryDocument,
  entryHash,
  GENESIS_HASH,
  nextLink,
  type WalletHead,
} from '../../src/ledger';
import type { Stores } from '../../src/stores';

const INSERT_BATCH = 1_000;

export interface SeededEntry {
  amount: number;
  leg: Leg;
  transactionId: Types.ObjectId;
  transactionType: TransactionType;
  counterpartyUserId: Types.ObjectId | null;
  createdAt: Date;
}

/** Appends entries to wallets' chains, inserting them in batches; `finish` writes each wallet at its head. */
export class LedgerSeeder {
  private readonly heads = new Map<string, WalletHead>();
  private batch: LedgerEntryDocument[] = [];

  constructor(private readonly stores: Stores) {}

  async write(userId: string, entry: SeededEntry): Promise<void> {
    const head = this.heads.get(userId) ?? { userId, balance: 0, version: 0, latestEntryAt: null, hash: GENESIS_HASH };
    const link = nextLink(head, entry.amount);
    const document: LedgerEntryDocument = {
      ...entry,
      _id: ledgerEntryIdOf(userId, link.version),
      userId: new Types.ObjectId(userId),
      version: link.version,
      balanceAfter: link.balanceAfter,
    };
    document.hash = entryHash(document, head.hash!);
    this.heads.set(userId, {
      userId,
      balance: link.balanceAfter,
      version: link.version,
      latestEntryAt: entry.createdAt,
      hash: document.hash,
    });
    this.batch.push(document);
    if (this.batch.length >= INSERT_BATCH) await this.flush();
  }

  /** Inserts the entries still waiting and a wallet document at each wallet's head; returns the heads. */
  async finish(): Promise<WalletHead[]> {
    await this.flush();
    // Every leg's location was recorded with its entry, as the ledger's writer records it.
    await this.stores.ledger.markLocationsComplete();
    const heads = [...this.heads.values()];
    await this.stores.ledger.wallets.insertMany(
      heads.map((head) => ({
        _id: walletIdOf(head.userId),
        userId: new Types.ObjectId(head.userId),
        balance: head.balance,
        version: head.version,
      })),
    );
    return heads;
  }

  private async flush(): Promise<void> {
    if (this.batch.length > 0) {
      await this.stores.ledger.entryCollection.insertMany(this.batch, { ordered: false });
      await this.stores.ledger.recordLegLocations(this.batch);
    }
    this.batch = [];
  }
}
