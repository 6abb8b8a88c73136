import { Schema, type Types } from 'mongoose';

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
