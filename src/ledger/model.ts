import { Schema, Types } from 'mongoose';
import { createHash } from 'node:crypto';
import { LEGS, TRANSACTION_TYPES, type Leg, type TransactionType } from '../domain';

// What the ledger stores: ledger entries (with voided legs and leg locations beside them), wallet
// documents, the keys that make each write happen once, and an entry as a reader is shown it.

/** One balance change of one wallet: the wallet's history, gapless by `version`. */
export interface LedgerEntryDocument {
  /** `<userId>:<version>` (see ledgerEntryIdOf). */
  _id: string;
  userId: Types.ObjectId;
  version: number;
  transactionId: Types.ObjectId | null;
  transactionType: TransactionType | null;
  leg: Leg;
  amount: number;
  balanceAfter: number;
  counterpartyUserId: Types.ObjectId | null;
  createdAt: Date;
  /**
   * Set on every leg applied under its transaction's record (all legs since transactions are
   * decided once). A leg found without it may predate records: its transaction's record, if just
   * opened, knows nothing of it (see adoptLedger).
   */
  underRecord?: boolean;
  /**
   * The entry's link in its wallet's chain (see entryHash). Absent only on entries written before
   * entries were chained, until the chain is sealed over them (see sealChain).
   */
  hash?: string;
}

/**
 * A forward leg that a Failed decision voided before it was applied. It lives among the entries
 * because it holds the leg's unique key (transactionId, userId, leg): the entry can never be
 * inserted after it, on FerretDB as on MongoDB. It is in no wallet's chain (no version, no amount).
 */
export interface VoidedLegDocument {
  /** `void:<transactionId>:<userId>:<leg>` (see voidedLegIdOf). */
  _id: string;
  transactionId: Types.ObjectId;
  userId: Types.ObjectId;
  leg: 'debit' | 'credit';
  voidedAt: Date;
}

/** Entries have a version; voided legs do not. */
export const ENTRIES_ONLY = { version: { $exists: true } } as const;

export const ledgerEntrySchema = new Schema<LedgerEntryDocument>(
  {
    _id: { type: String, required: true },
    userId: { type: Schema.Types.ObjectId, required: true },
    version: { type: Number, required: true, min: 1 },
    transactionId: { type: Schema.Types.ObjectId, default: null },
    transactionType: { type: String, enum: [...TRANSACTION_TYPES, null], default: null },
    leg: { type: String, enum: LEGS, required: true },
    amount: { type: Number, required: true },
    balanceAfter: { type: Number, required: true, min: 0 },
    counterpartyUserId: { type: Schema.Types.ObjectId, default: null },
    createdAt: { type: Date, required: true },
    underRecord: { type: Boolean },
    hash: { type: String },
  },
  { versionKey: false, strict: 'throw' },
);

// Claiming the next version of a wallet is the atomic step of every balance change: only one entry
// can ever hold (userId, version), because its _id is <userId>:<version>. This index only serves
// scans in version order (on MongoDB); it is not unique, since voided legs have no version.
ledgerEntrySchema.index({ userId: 1, version: 1 }, { name: 'ledger_wallet_version' });
/** The unique index it replaces, dropped where an earlier release created it. */
export const REPLACED_INDEXES = ['ledger_wallet_version_unique'];
// The idempotency key: a leg of a transaction is applied to a wallet at most once, and a voided
// forward leg holds its key for good.
ledgerEntrySchema.index({ transactionId: 1, userId: 1, leg: 1 }, { unique: true, name: 'ledger_transaction_leg_unique' });

/**
 * A wallet: the projection of its ledger. `balance` and `version` are copied from the wallet's latest
 * ledger entry and never changed otherwise; the ledger is the truth.
 */
export interface WalletDocument {
  _id: Types.ObjectId;
  userId: Types.ObjectId;
  balance: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export const walletSchema = new Schema<WalletDocument>(
  {
    userId: { type: Schema.Types.ObjectId, required: true },
    balance: { type: Number, required: true, min: 0 },
    version: { type: Number, required: true, min: 0 },
  },
  { timestamps: true, versionKey: false, strict: 'throw' },
);

walletSchema.index({ userId: 1 }, { unique: true, name: 'wallet_user_unique' });

// Document ids the ledger derives instead of searching for. FerretDB's SQLite backend serves only a
// lookup by _id from an index (in the local stack's build: see scripts/stack.sh) and scans the whole
// collection for anything else, so every read on the money path is a read by _id (MongoDB answers
// both from indexes).

/** A wallet's id, derived from its user's id: stable, distinct from it, found without an index. */
export function walletIdOf(userId: string): Types.ObjectId {
  return new Types.ObjectId(createHash('sha256').update(`wallet:${userId.toLowerCase()}`).digest().subarray(0, 12));
}

/** A ledger entry's id is its wallet and version: the primary key itself claims the version. */
export function ledgerEntryIdOf(userId: string, version: number): string {
  return `${userId.toLowerCase()}:${version}`;
}

/** The id of a voided forward leg: found by _id whoever asks whether the leg is void. */
export function voidedLegIdOf(transactionId: string, userId: string, leg: string): string {
  return `void:${transactionId.toLowerCase()}:${userId.toLowerCase()}:${leg}`;
}

/**
 * Where a leg of a transaction is found: `<transactionId>:<leg>:<in|out>`. A transaction moves money
 * out of one wallet and into one other, so its leg and direction name one wallet: every leg of a
 * transaction is found by _id without knowing its parties (debit:out, credit:in, and an undo of
 * either in the opposite direction).
 */
export function legIdOf(transactionId: string, leg: string, amount: number): string {
  return `${transactionId.toLowerCase()}:${leg}:${amount < 0 ? 'out' : 'in'}`;
}

/** Every place a leg of one transaction can be found (see legIdOf). */
export function legIdsOfTransaction(transactionId: string): string[] {
  const id = transactionId.toLowerCase();
  return [
    `${id}:debit:out`,
    `${id}:credit:in`,
    ...['compensation', 'reversal'].flatMap((undo) => [`${id}:${undo}:in`, `${id}:${undo}:out`]),
  ];
}

/** A ledger entry as clients see it: in the history, the statement and the live updates alike. */
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

export function toHistoryEntry(entry: LedgerEntryDocument): HistoryEntry {
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
