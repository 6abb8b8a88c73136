import { objectId } from '../support/ids';
import { randomInt, seededRandom } from '../support/seeded-random';
import { WalletHarness } from '../support/wallet-harness';
import { eventually } from '../support/eventually';

const SEED = Number(process.env.CONCURRENCY_SEED ?? 20261124);
const WALLETS = 10;
const FUNDING = 1_000;
const HOT_FUNDING = 3_000;

describe('concurrent transfers on FerretDB', () => {
  let wallet: WalletHarness;

  beforeAll(async () => {
    wallet = await WalletHarness.start('concurrency');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  it('conserve money, never go negative, keep every ledger gapless and finalize each transaction once', async () => {
    const random = seededRandom(SEED);
    const users = await wallet.signedUp(WALLETS);
    const hot = users[0];
    await Promise.all(users.map((user) => wallet.topUp(user, FUNDING)));
    await wallet.topUp(hot, HOT_FUNDING);
    const toppedUp = WALLETS * FUNDING + HOT_FUNDING;

    const transfers: Array<{ transactionId: string; from: string; to: string; amount: number }> = [];
    for (let i = 0; i < 300; i++) {
      const from = users[randomInt(random, 0, WALLETS - 1)];
      let to = users[randomInt(random, 0, WALLETS - 1)];
      if (to === from) to = users[(users.indexOf(from) + 1) % WALLETS]!;
      transfers.push({ transactionId: objectId(), from, to, amount: randomInt(random, 1, 400) });
    }
    for (let i = 0; i < 100; i++) {
      transfers.push({
        transactionId: objectId(),
        from: hot,
        to: users[randomInt(random, 1, WALLETS - 1)],
        amount: randomInt(random, 1, 120),
      });
    }
    for (const t of transfers) wallet.platform.transfer(t.transactionId, t.from, t.to, t.amount);

    await eventually(
      `${transfers.length} finalizations`,
      () => (transfers.every((t) => wallet.platform.finalizationsOf(t.transactionId).length > 0) ? true : undefined),
      240_000,
      250,
    );

    const outcomes = { Completed: 0, Failed: 0 };
    for (const t of transfers) {
      const finalizations = wallet.platform.finalizationsOf(t.transactionId);
      expect(finalizations).toHaveLength(1);
      const finalized = finalizations[0];
      outcomes[finalized.status]++;
      const legs = (await wallet.entriesOfTransaction(t.transactionId)).map((e) => [e.leg, e.userId.toHexString(), e.amount]);
      if (finalized.status === 'Completed') {
        expect(legs).toEqual([
          ['debit', t.from, -t.amount],
          ['credit', t.to, t.amount],
        ]);
      } else {
        expect(finalized.reason).toBe('Insufficient balance');
        expect(legs).toEqual([]);
      }
    }

    let total = 0;
    for (const user of users) {
      await wallet.expectConsistentWallet(user);
      const balance = (await wallet.balanceOf(user))!;
      expect(balance).toBeGreaterThanOrEqual(0);
      total += balance;
    }
    expect(total).toBe(toppedUp);
    const conflicts = (await wallet.service.metrics.ledgerVersionConflicts.get()).values[0]?.value ?? 0;
    console.log(
      `concurrency seed ${SEED}: ${outcomes.Completed} completed, ${outcomes.Failed} failed, ${conflicts} version conflicts retried`,
    );
    expect(outcomes.Completed).toBeGreaterThan(0);
    expect(outcomes.Failed).toBeGreaterThan(0);
  }, 300_000);
});
