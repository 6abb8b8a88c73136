// Wallets for a benchmark, made the way the platform makes them: sign-ups, then one top-up each.
import { Types } from 'mongoose';
import type { Stores } from '../../src/stores';
import type { LoadDriver } from './load';

const WALLET_POLL_MS = 250;

/** Creates `count` wallets through `user.signup`, funds each with one top-up of `amount`, and waits for every finalization. */
export async function fundedWallets(
  driver: LoadDriver,
  stores: Stores,
  { count, amount, timeoutMs }: { count: number; amount: number; timeoutMs: number },
): Promise<string[]> {
  const users = Array.from({ length: count }, () => new Types.ObjectId().toHexString());
  for (const user of users) await driver.signup(user);
  await driver.flush();
  while ((await stores.ledger.wallets.countDocuments()) < count) await new Promise((resolve) => setTimeout(resolve, WALLET_POLL_MS));
  const topUps = users.map((userId) => ({ transactionId: new Types.ObjectId().toHexString(), userId }));
  for (const t of topUps) await driver.completed(t.transactionId, { type: 'TopUp', userId: t.userId, amount });
  await driver.flush();
  await driver.allFinalized(
    topUps.map((t) => t.transactionId),
    timeoutMs,
  );
  return users;
}
