import mongoose, { Types } from 'mongoose';
import type { LegChange } from '../../src/domain';
import {
  InsufficientBalanceError,
  LedgerInvariantError,
  LegNotLocatedError,
  LegVoidedError,
  WalletNotFoundError,
  Ledger,
  entryHash,
  GENESIS_HASH,
  verifyChain,
  LedgerStore,
  ENTRIES_ONLY,
} from '../../src/ledger';
import { createMetrics } from '../../src/metrics';
import { openStores, type Stores } from '../../src/stores';
import { objectId } from '../support/ids';
import { databaseUrlFor } from '../support/tools';
import { dropDatabase } from '../support/wallet-service';

/**
 * The ledger straight against the database server (FerretDB here, MongoDB where DATABASE_URL says),
 * with several Ledger instances standing for several worker processes racing for one wallet.
 */
describe('the ledger on the database', () => {
  const url = databaseUrlFor('wallet_test_ledger');
  let databases: Stores[];
  let metrics: ReturnType<typeof createMetrics>;
  let ledgers: Ledger[];

  beforeAll(async () => {
    await dropDatabase(url);
    databases = await Promise.all(Array.from({ length: 5 }, () => openStores(url)));
    metrics = createMetrics();
    ledgers = databases.map((db) => new Ledger(db.ledger, metrics, 0));
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.close()));
  });

  const db = () => databases[0];
  const credit = (userId: string, amount: number, transactionId = objectId()): LegChange => ({
    transactionId,
    transactionType: 'TopUp',
    leg: 'credit',
    userId,
    amount,
  });
  const debit = (userId: string, amount: number, transactionId = objectId()): LegChange => ({
    transactionId,
    transactionType: 'Transfer',
    leg: 'debit',
    userId,
    amount: -amount,
    counterpartyUserId: objectId(),
  });
  async function entriesOf(userId: string) {
    return db()
      .ledger.entries.find({ userId: new Types.ObjectId(userId), ...ENTRIES_ONLY })
      .sort({ version: 1 })
      .lean()
      .exec();
  }
  async function walletOf(userId: string) {
    return db()
      .ledger.wallets.findOne({ userId: new Types.ObjectId(userId) })
      .lean()
      .exec();
  }
  async function conflicts() {
    return (await metrics.ledgerVersionConflicts.get()).values[0]?.value ?? 0;
  }

  it('lets exactly one of many racing processes claim each version of a hot wallet', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 10_000));
    const conflictsBefore = await conflicts();

    const changes = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? credit(user, 7) : debit(user, 5)));
    const results = await Promise.allSettled(changes.map((change, i) => ledgers[i % ledgers.length].applyLeg(change)));

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const entries = await entriesOf(user);
    expect(entries).toHaveLength(201);
    verifyChain(user, entries);
    expect(entries[entries.length - 1].balanceAfter).toBe(10_000 + 100 * 7 - 100 * 5);
    // Racing processes may leave the wallet document a step behind; rolling forward brings it level.
    await expect(ledgers[0].rollProjectionForward(user)).resolves.toMatchObject({ balance: 10_200, version: 201 });
    expect(await walletOf(user)).toMatchObject({ balance: 10_200, version: 201 });
    expect(await conflicts()).toBeGreaterThan(conflictsBefore);
  });

  it('applies a leg once however many attempts race for it, and every attempt returns the same entry', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    const change = credit(user, 250);
    const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) => ledgers[i % ledgers.length].applyLeg(change)));
    expect(new Set(attempts.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(attempts[0]).toMatchObject({ leg: { leg: 'credit', amount: 250, balanceAfter: 250, version: 1 }, predatesRecord: false });
    expect(await entriesOf(user)).toHaveLength(1);
  });

  it('returns the first result to a retry even when the balance has moved on since', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 100));
    const spend = debit(user, 100);
    const first = await ledgers[0].applyLeg(spend);
    await expect(ledgers[1].applyLeg(spend)).resolves.toEqual(first);
    await expect(ledgers[1].applyLeg(debit(user, 1))).rejects.toThrow(InsufficientBalanceError);
  });

  it('returns the first result to a leg applied again after many later entries of its wallet', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    const older = credit(user, 100);
    const firstOfOlder = await ledgers[0].applyLeg(older);
    for (let i = 0; i < 40; i++) await ledgers[0].applyLeg(credit(user, 1));
    const recent = credit(user, 50);
    const firstOfRecent = await ledgers[0].applyLeg(recent);
    for (let i = 0; i < 3; i++) await ledgers[0].applyLeg(credit(user, 1));

    await expect(ledgers[1].applyLeg(recent)).resolves.toEqual(firstOfRecent);
    await expect(ledgers[1].applyLeg(older)).resolves.toEqual(firstOfOlder);
    const entries = await entriesOf(user);
    expect(entries).toHaveLength(45);
    verifyChain(user, entries);
  });

  it('returns the first result to a debit applied again when its balance is spent and later entries followed', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 100));
    const spend = debit(user, 100);
    const first = await ledgers[0].applyLeg(spend);
    for (let i = 0; i < 3; i++) await ledgers[0].applyLeg(credit(user, 1));
    await expect(ledgers[1].applyLeg(spend)).resolves.toEqual(first);
    expect(await entriesOf(user)).toHaveLength(5);
  });

  it('rolls a projection left behind by a crashed writer forward on the next change', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 100));
    // A writer that died after its entry but before the projection: the wallet still says version 0.
    await db()
      .ledger.wallets.updateOne({ userId: new Types.ObjectId(user) }, { $set: { balance: 0, version: 0 } })
      .exec();
    const next = await ledgers[1].applyLeg(credit(user, 5));
    expect(next.leg).toMatchObject({ version: 2, balanceAfter: 105 });
    expect(await walletOf(user)).toMatchObject({ balance: 105, version: 2 });
  });

  it('refuses a leg already applied with another amount as a broken invariant', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    const change = credit(user, 100);
    await ledgers[0].applyLeg(change);
    await expect(ledgers[0].applyLeg({ ...change, amount: 101 })).rejects.toThrow(LedgerInvariantError);
  });

  it("refuses a debit only on the wallet's current balance, though another process credited it since", async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 10));
    await ledgers[1].applyLeg(credit(user, 100));
    await expect(ledgers[0].applyLeg(debit(user, 50))).resolves.toMatchObject({ leg: { version: 3, balanceAfter: 60 } });
    await expect(ledgers[0].applyLeg(debit(user, 61))).rejects.toThrow(InsufficientBalanceError);
    verifyChain(user, await entriesOf(user));
  });

  it("refuses a debit only on its ledger's head, though the wallet document lags it and no head is remembered", async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 10));
    await ledgers[0].applyLeg(credit(user, 90));
    // The document left at version 1 (a crash between an entry and its projection, a stale write).
    await db()
      .ledger.wallets.updateOne({ userId: new Types.ObjectId(user) }, { $set: { balance: 10, version: 1 } })
      .exec();
    const restarted = new Ledger(db().ledger, metrics, 0);
    await expect(restarted.applyLeg(debit(user, 50))).resolves.toMatchObject({ leg: { version: 3, balanceAfter: 50 } });
    await expect(new Ledger(db().ledger, metrics, 0).applyLeg(debit(user, 51))).rejects.toThrow(/holds 50, cannot take 51/);
    verifyChain(user, await entriesOf(user));
  });

  it('treats a wallet document that vanished under a wallet it wrote as a broken invariant', async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[0].applyLeg(credit(user, 10));
    await db()
      .ledger.wallets.deleteOne({ userId: new Types.ObjectId(user) })
      .exec();
    await expect(ledgers[0].applyLeg(credit(user, 1))).rejects.toThrow(LedgerInvariantError);
    await expect(ledgers[0].applyLeg(credit(user, 1))).rejects.toThrow(WalletNotFoundError);
  });

  it('answers copies sent in one command wallet by wallet: only the copy whose wallet document vanished is refused', async () => {
    const [kept, vanished] = [objectId(), objectId()];
    for (const user of [kept, vanished]) {
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 10));
    }
    const [[keptEntry], [vanishedEntry]] = await Promise.all([entriesOf(kept), entriesOf(vanished)]);
    await db()
      .ledger.wallets.deleteOne({ userId: new Types.ObjectId(vanished) })
      .exec();
    await db()
      .ledger.wallets.updateOne({ userId: new Types.ObjectId(kept) }, { $set: { balance: 0, version: 0 } })
      .exec();
    expect(await db().ledger.copyToWallets([vanishedEntry, keptEntry])).toEqual([false, true]);
    expect(await walletOf(kept)).toMatchObject({ balance: 10, version: 1 });
  });

  it("stamps each entry no earlier than its wallet's previous entry, though another process's clock ran ahead", async () => {
    const user = objectId();
    await ledgers[0].openWallet(user);
    await ledgers[1].applyLeg(credit(user, 10));
    // As a replica whose clock runs an hour ahead stamps it.
    const ahead = new Date(Date.now() + 3_600_000);
    await db().ledger.entryCollection.updateOne({ _id: `${user}:1` }, { $set: { createdAt: ahead } });
    await ledgers[2].applyLeg(credit(user, 5));
    await ledgers[2].applyLeg(debit(user, 3));
    const times = (await entriesOf(user)).map((entry) => entry.createdAt.getTime());
    expect(times).toEqual([ahead.getTime(), ahead.getTime(), ahead.getTime()]);
  });

  it('refuses a change to a wallet that does not exist', async () => {
    await expect(ledgers[0].applyLeg(credit(objectId(), 1))).rejects.toThrow(WalletNotFoundError);
  });

  it('opens a wallet once, with its initial balance as the first ledger entry', async () => {
    const generous = new Ledger(db().ledger, metrics, 500);
    const user = objectId();
    const opened = await Promise.all([generous.openWallet(user), generous.openWallet(user), generous.openWallet(user)]);
    expect(opened.filter((o) => o.created)).toHaveLength(1);
    expect(await walletOf(user)).toMatchObject({ balance: 500, version: 1 });
    expect(await entriesOf(user)).toMatchObject([{ leg: 'opening', amount: 500, balanceAfter: 500, version: 1 }]);
  });

  describe('a forward leg voided by its Failed decision', () => {
    it("can never be applied after, by any process, and is in no wallet's chain", async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      const change = credit(user, 30);
      await expect(ledgers[0].voidLeg(change)).resolves.toBe('voided');
      await expect(ledgers[1].voidLeg(change)).resolves.toBe('voided');
      await expect(ledgers[2].applyLeg(change)).rejects.toThrow(LegVoidedError);
      expect(await entriesOf(user)).toEqual([]);
      expect(await walletOf(user)).toMatchObject({ balance: 0, version: 0 });
    });

    it('is found standing when it was applied first', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      const change = credit(user, 30);
      await ledgers[0].applyLeg(change);
      await expect(ledgers[1].voidLeg(change)).resolves.toBe('standing');
    });

    it('either stands or is void when a process applies it while another voids it, never both', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      const outcomes: string[] = [];
      for (let round = 0; round < 30; round++) {
        const change = credit(user, 1);
        const [applied, voided] = await Promise.allSettled([ledgers[round % 5].applyLeg(change), ledgers[(round + 1) % 5].voidLeg(change)]);
        const landed = applied.status === 'fulfilled';
        if (applied.status === 'rejected') expect(applied.reason).toBeInstanceOf(LegVoidedError);
        expect(voided).toEqual({ status: 'fulfilled', value: landed ? 'standing' : 'voided' });
        outcomes.push(landed ? 'applied' : 'voided');
      }
      const entries = await entriesOf(user);
      expect(entries).toHaveLength(outcomes.filter((o) => o === 'applied').length);
      verifyChain(user, entries);
    });
  });

  describe('the undo of a forward leg', () => {
    it("is applied once under the decision's undo leg, whichever process undoes it", async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 100));
      const spend = debit(user, 60);
      await ledgers[0].applyLeg(spend);
      const undos = await Promise.all(ledgers.map((ledger) => ledger.undoLeg(spend, 'reversal')));
      expect(new Set(undos.map((u) => JSON.stringify(u.leg))).size).toBe(1);
      expect(undos[0].leg).toMatchObject({ leg: 'reversal', amount: 60, balanceAfter: 100 });
      expect((await entriesOf(user)).map((e) => e.leg)).toEqual(['credit', 'debit', 'reversal']);
    });

    it('finds the leg it undoes though the wallet document lags behind it (its writer died before the projection)', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 100));
      const spend = debit(user, 30);
      await ledgers[0].applyLeg(spend);
      await db()
        .ledger.wallets.updateOne({ userId: new Types.ObjectId(user) }, { $set: { balance: 100, version: 1 } })
        .exec();
      await expect(new Ledger(db().ledger, metrics, 0).undoLeg(spend, 'compensation')).resolves.toMatchObject({
        leg: { leg: 'compensation', amount: 30, balanceAfter: 100, version: 3 },
      });
      verifyChain(user, await entriesOf(user));
    });

    it('refuses to undo a leg not found applied (retried), and one held with another amount (a broken invariant)', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 100));
      await expect(ledgers[0].undoLeg(debit(user, 10), 'compensation')).rejects.toThrow(LegNotLocatedError);
      const spend = debit(user, 10);
      await ledgers[0].applyLeg(spend);
      await expect(ledgers[0].undoLeg({ ...spend, amount: -11 }, 'compensation')).rejects.toThrow(LedgerInvariantError);
    });

    it('of a leg applied before records were kept finds its undo under the other undo leg, and writes none', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 100));
      const spend = debit(user, 40);
      await ledgers[0].applyLeg(spend);
      await ledgers[0].applyLeg({ ...spend, leg: 'compensation', amount: 40 });
      await db().ledger.entryCollection.updateMany(
        { transactionId: new Types.ObjectId(spend.transactionId) },
        { $unset: { underRecord: 1 } },
      );
      await expect(ledgers[1].undoLeg(spend, 'reversal')).resolves.toMatchObject({
        leg: { leg: 'compensation', amount: 40 },
        predatesRecord: true,
      });
      expect((await entriesOf(user)).map((e) => e.leg)).toEqual(['credit', 'debit', 'compensation']);
    });
  });

  describe("a wallet's chain", () => {
    /** Recomputes every hash from the genesis: the chain as the entries' fields say it must be. */
    async function chainHolds(userId: string): Promise<boolean> {
      let previous = GENESIS_HASH;
      for (const entry of await entriesOf(userId)) {
        if (entry.hash !== entryHash(entry, previous)) return false;
        previous = entry.hash;
      }
      return true;
    }

    it('links every entry to the one before it by a hash over its fields', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 100));
      await ledgers[1].applyLeg(debit(user, 30));
      await ledgers[2].applyLeg(credit(user, 5));
      expect(await chainHolds(user)).toBe(true);

      await db()
        .ledger.entries.updateOne({ _id: `${user}:2` }, { $set: { amount: -31, balanceAfter: 69 } })
        .exec();
      expect(await chainHolds(user)).toBe(false);
    });

    it('seals a wallet written before entries were chained before it builds on it', async () => {
      const user = objectId();
      await new Ledger(db().ledger, metrics, 50).openWallet(user);
      for (let i = 0; i < 20; i++) await ledgers[0].applyLeg(credit(user, 1));
      await db()
        .ledger.entries.updateMany({ userId: new Types.ObjectId(user) }, { $unset: { hash: 1 } })
        .exec();

      await new Ledger(db().ledger, metrics, 0).applyLeg(credit(user, 7));
      const entries = await entriesOf(user);
      expect(entries).toHaveLength(22);
      expect(entries.every((entry) => typeof entry.hash === 'string')).toBe(true);
      expect(await chainHolds(user)).toBe(true);
    });
  });

  describe('finding a leg', () => {
    /** A ledger whose store reports every query it sends, as the database receives it. */
    async function monitoredLedger(): Promise<{
      ledger: Ledger;
      queries: Array<{ collection: string; filter: unknown }>;
      close: () => Promise<void>;
    }> {
      const connection = await mongoose.createConnection(url, { monitorCommands: true, autoIndex: false, autoCreate: false }).asPromise();
      const queries: Array<{ collection: string; filter: unknown }> = [];
      connection.getClient().on('commandStarted', (event) => {
        if (event.commandName === 'find') queries.push({ collection: event.command.find, filter: event.command.filter });
      });
      return { ledger: new Ledger(new LedgerStore(connection), metrics, 0), queries, close: () => connection.close() };
    }

    it('of a long ledger reads by _id alone, when the leg is applied again and when it is undone', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      await ledgers[0].applyLeg(credit(user, 1_000));
      const spend = debit(user, 100);
      const first = await ledgers[0].applyLeg(spend);
      for (let i = 0; i < 40; i++) await ledgers[0].applyLeg(credit(user, 1));
      const monitored = await monitoredLedger();
      try {
        await expect(monitored.ledger.applyLeg(spend)).resolves.toEqual(first);
        await expect(monitored.ledger.undoLeg(spend, 'compensation')).resolves.toMatchObject({ leg: { leg: 'compensation', amount: 100 } });
      } finally {
        await monitored.close();
      }
      expect(monitored.queries.length).toBeGreaterThan(0);
      const notById = monitored.queries.filter(
        ({ filter }) => !(typeof filter === 'object' && filter !== null && Object.keys(filter).join() === '_id'),
      );
      expect(notById).toEqual([]);
    });

    it('whose writer died before recording its location finds it among the latest entries, and records it', async () => {
      const user = objectId();
      await ledgers[0].openWallet(user);
      const topUp = credit(user, 100);
      const first = await ledgers[0].applyLeg(topUp);
      for (let i = 0; i < 5; i++) await ledgers[0].applyLeg(credit(user, 1));
      await db().ledger.legLocations.deleteOne({ _id: `${topUp.transactionId}:credit:in` });

      await expect(ledgers[1].applyLeg(topUp)).resolves.toEqual(first);
      expect(await db().ledger.legLocations.findOne({ _id: `${topUp.transactionId}:credit:in` })).toEqual({
        _id: `${topUp.transactionId}:credit:in`,
        userId: user,
        version: first.leg.version,
      });
      expect(await entriesOf(user)).toHaveLength(6);
    });
  });
});
