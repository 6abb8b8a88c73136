import { Schema, type Types } from 'mongoose';
import { LEGS, TRANSACTION_TYPES, type Leg, type TransactionType } from '../domain';

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
