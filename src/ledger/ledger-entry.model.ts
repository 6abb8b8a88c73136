import { Schema, type Types } from 'mongoose';
import { LEGS, TRANSACTION_TYPES, type Leg, type TransactionType } from '../../workflows/contract';

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
}

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
  },
  { versionKey: false, strict: 'throw' },
);

// Claiming the next version of a wallet is the atomic step of every balance change: only one entry
// can ever hold (userId, version). The _id <userId>:<version> enforces it; the index serves scans
// in version order (history on MongoDB, reconciliation).
ledgerEntrySchema.index({ userId: 1, version: 1 }, { unique: true, name: 'ledger_wallet_version_unique' });
// The idempotency key: a leg of a transaction is applied to a wallet at most once.
ledgerEntrySchema.index({ transactionId: 1, userId: 1, leg: 1 }, { unique: true, name: 'ledger_transaction_leg_unique' });
