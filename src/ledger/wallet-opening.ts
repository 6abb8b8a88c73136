import { Types } from 'mongoose';
import { isDuplicateKey } from '../database/duplicate-key';
import { entryHash, GENESIS_HASH } from './ledger-chain';
import type { LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';
import { ledgerEntryIdOf, walletIdOf } from './keys';
import type { WalletProjection } from './projection';

/** Creates the user's wallet, once; a repeated sign-up changes nothing. */
export async function openWallet(
  store: LedgerStore,
  projection: WalletProjection,
  userId: string,
  initialBalance: number,
): Promise<{ created: boolean }> {
  const user = new Types.ObjectId(userId);
  const opening = initialBalance > 0;
  // Marked first: the reconciliation must see the opening entry, which no transaction marks.
  await store.walletsToReconcile.mark([userId.toLowerCase()]);
  // The initial balance is an entry like any other, so the ledger alone explains every balance.
  if (opening) await insertOpeningEntry(store, user, userId, initialBalance);
  try {
    await store.wallets.create({ _id: walletIdOf(userId), userId: user, balance: initialBalance, version: opening ? 1 : 0 });
  } catch (error) {
    if (isDuplicateKey(error)) return { created: false };
    throw error;
  }
  // A leg may have reached the ledger between the opening entry and this document.
  if (opening) await projection.rollForward(userId);
  return { created: true };
}

async function insertOpeningEntry(store: LedgerStore, user: Types.ObjectId, userId: string, amount: number): Promise<void> {
  const entry: LedgerEntryDocument = {
    _id: ledgerEntryIdOf(userId, 1),
    userId: user,
    version: 1,
    transactionId: null,
    transactionType: null,
    leg: 'opening',
    amount,
    balanceAfter: amount,
    counterpartyUserId: null,
    createdAt: new Date(),
  };
  entry.hash = entryHash(entry, GENESIS_HASH);
  try {
    await store.entryCollection.insertOne(entry);
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}
