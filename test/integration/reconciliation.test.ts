import { Types } from 'mongoose';
import type { ReconciliationReport } from '../../src/domain';
import { walletIdOf, entryHash, GENESIS_HASH } from '../../src/ledger';
import type { OperationsContext } from '../../src/ops/operations-context';
import { reconcileNow } from '../../src/ops/reconcile';
import { reconcile, reconciliationOver } from '../../src/reconciliation/reconciliation';
import { openStores } from '../../src/stores';
import { LEASE_ABANDONED_AFTER_MS, PassInProgressError } from '../../src/reconciliation/reconciliation-store';
import { verifyLedger } from '../../src/ops/verify';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

/**
 * The reconciliation against the real stack: a first full pass takes the ledger over, and every pass
 * after it checks what changed since the one before (its wallets' new entries, the transactions
 * opened or rolled back since), keeping the platform's totals from pass to pass.
 */
describe('the reconciliation', () => {
  let wallet: WalletHarness;
  let closeOperator: () => Promise<void>;
  let ctx: OperationsContext;

  beforeAll(async () => {
    wallet = await WalletHarness.start('reconciliation');
    ({ ctx, close: closeOperator } = await wallet.operatorContext());
  });
  afterAll(async () => {
    await closeOperator();
    await wallet.stop();
  });

  const stores = () => wallet.service.stores;
  const anHourAgo = () => new Date(Date.now() - 61 * 60 * 1000);
  /** A pass run as `owner` directly (an activity's attempts share one owner). */
  const passAs = (
    owner: string,
    options: { full?: boolean; heartbeat?: (p: { userId?: string; wallets: number }) => void; signal?: AbortSignal } = {},
  ) =>
    reconcile(reconciliationOver(stores(), wallet.service.ledger), {
      owner,
      mode: options.full ? 'full' : 'incremental',
      stalledAfterMs: ctx.stalledAfterMs,
      heartbeat: options.heartbeat,
      signal: options.signal,
    });
  async function sound(): Promise<ReconciliationReport> {
    const report = await reconcileNow(ctx);
    expect(report).toMatchObject({ ok: true, drift: [], unbalanced: [], stalled: [], conserved: true });
    return report;
  }
  async function chainHolds(userId: string): Promise<boolean> {
    let previous = GENESIS_HASH;
    for (const entry of await wallet.ledgerOf(userId)) {
      if (entry.hash !== entryHash(entry, previous)) return false;
      previous = entry.hash;
    }
    return true;
  }

  it('takes the ledger over with a full pass, then walks only the wallets and transactions that changed', async () => {
    const [alice, bob] = [await wallet.fundedUser(500), await wallet.fundedUser(200)];
    await wallet.fundedUser(50);
    const first = await sound();
    expect(first).toMatchObject({ pass: 1, mode: 'full', wallets: 3, totalBalance: 750, toppedUp: 750, inFlight: 0 });

    await wallet.transfer(alice, bob, 120);
    const second = await sound();
    expect(second).toMatchObject({ pass: 2, mode: 'incremental', wallets: 2, entries: 2, transactions: 1, totalBalance: 750 });

    expect(await sound()).toMatchObject({ pass: 3, mode: 'incremental', wallets: 0, entries: 0, transactions: 0, totalBalance: 750 });
  });

  it('rolls a wallet document behind its ledger forward, and reports one that disagrees with it until it is put right', async () => {
    const lagging = await wallet.fundedUser(50);
    const corrupted = await wallet.fundedUser(100);
    await sound();
    await wallet.topUp(lagging, 25);
    await stores()
      .ledger.wallets.updateOne({ _id: walletIdOf(lagging) }, { $set: { balance: 50, version: 1 } })
      .exec();
    await wallet.topUp(corrupted, 1);
    await stores()
      .ledger.wallets.updateOne({ _id: walletIdOf(corrupted) }, { $set: { balance: 1_000_000 } })
      .exec();

    const report = await reconcileNow(ctx);
    expect(report).toMatchObject({ ok: false, repaired: [lagging] });
    expect(report.drift).toEqual([
      { userId: corrupted, problem: expect.stringMatching(/wallet says 1000000 at version 2, its ledger 101 at version 2/) },
    ]);
    expect(await wallet.balanceOf(lagging)).toBe(75);
    expect(await reconcileNow(ctx)).toMatchObject({ ok: false, wallets: 1, drift: [{ userId: corrupted }] });

    await stores()
      .ledger.wallets.updateOne({ _id: walletIdOf(corrupted) }, { $set: { balance: 101 } })
      .exec();
    await sound();
  });

  it('names the entry whose amount was changed in the database, by its hash, until it is put back', async () => {
    const victim = await wallet.fundedUser(300);
    await wallet.topUp(victim, 40);
    await sound();
    const id = `${victim}:1`;
    // The amount and the balance after it changed together: this entry's arithmetic holds, its hash does not.
    await stores()
      .ledger.entries.updateOne({ _id: id }, { $set: { amount: 301, balanceAfter: 301 } })
      .exec();

    const full = await reconcileNow(ctx, { full: true });
    expect(full).toMatchObject({ ok: false, mode: 'full' });
    expect(full.drift).toContainEqual({ userId: victim, problem: 'version 1: its hash does not match its fields and the chain before it' });

    await stores()
      .ledger.entries.updateOne({ _id: id }, { $set: { amount: 300, balanceAfter: 300 } })
      .exec();
    expect(await reconcileNow(ctx, { full: true })).toMatchObject({ ok: true, mode: 'full' });
    expect(await chainHolds(victim)).toBe(true);
  });

  it('verifies chains read-only, naming the first entry changed, and checks a head a statement closed with', async () => {
    const user = await wallet.fundedUser(90);
    await wallet.topUp(user, 9);
    await wallet.topUp(user, 1);
    const [, second, third] = await wallet.ledgerOf(user);
    const kept = { version: second.version, hash: second.hash! };
    expect(await verifyLedger(stores().ledger, { userId: user, keptHead: kept })).toMatchObject({
      ok: true,
      wallets: 1,
      entries: 3,
      broken: [],
      head: { userId: user, version: 3, hash: third.hash },
      keptHead: { ...kept, holds: true },
    });
    const everyWallet = await verifyLedger(stores().ledger, {});
    expect(everyWallet).toMatchObject({ ok: true, broken: [] });
    expect(everyWallet.wallets).toBe(await stores().ledger.wallets.countDocuments());

    await stores()
      .ledger.entries.updateOne({ _id: second._id }, { $set: { counterpartyUserId: new Types.ObjectId() } })
      .exec();
    expect(await verifyLedger(stores().ledger, { userId: user, keptHead: kept })).toMatchObject({
      ok: false,
      broken: [{ userId: user, version: 2, problem: 'version 2: its hash does not match its fields and the chain before it' }],
      keptHead: { holds: false },
    });
    expect((await verifyLedger(stores().ledger, {})).broken).toEqual([expect.objectContaining({ userId: user, version: 2 })]);
    await stores()
      .ledger.entries.updateOne({ _id: second._id }, { $set: { counterpartyUserId: null } })
      .exec();
    expect(await verifyLedger(stores().ledger, { userId: user, keptHead: { version: 2, hash: third.hash! } })).toMatchObject({
      ok: false,
      broken: [],
      keptHead: { holds: false },
    });
  });

  it('re-walks every chain as a workflow, slice by slice, failing on a changed entry', async () => {
    const run = () =>
      wallet.temporal.workflow.start('ledgerVerification', {
        taskQueue: wallet.service.config.temporal.taskQueue,
        workflowId: `verification-spec-${objectId()}`,
        workflowExecutionTimeout: '5 minutes',
      });
    const clean = await (await run()).result();
    expect(clean).toMatchObject({ after: null, broken: [], wallets: await stores().ledger.wallets.countDocuments() });

    const victim = await wallet.fundedUser(20);
    const [entry] = await wallet.ledgerOf(victim);
    await stores()
      .ledger.entries.updateOne({ _id: entry._id }, { $set: { amount: 21, balanceAfter: 21 } })
      .exec();
    const tampered = await run();
    await expect(tampered.result()).rejects.toThrow(/Workflow execution failed/);
    const { events } = await tampered.fetchHistory();
    const failure = events?.find((event) => event.workflowExecutionFailedEventAttributes)?.workflowExecutionFailedEventAttributes?.failure;
    expect(failure?.message).toBe(`ledger chain broken in 1 wallet(s): ${victim} at version 1`);
    await stores()
      .ledger.entries.updateOne({ _id: entry._id }, { $set: { amount: 20, balanceAfter: 20 } })
      .exec();
  });

  it('finds a changed entry at a checkpoint when its wallet next moves', async () => {
    const victim = await wallet.fundedUser(80);
    await sound();
    const [checkpoint] = await wallet.ledgerOf(victim);
    await stores()
      .ledger.entries.updateOne({ _id: checkpoint._id }, { $set: { createdAt: new Date(0) } })
      .exec();
    await wallet.topUp(victim, 5);
    const report = await reconcileNow(ctx);
    expect(report.drift).toEqual([{ userId: victim, problem: 'version 1: changed since it was verified' }]);

    await stores()
      .ledger.entries.updateOne({ _id: checkpoint._id }, { $set: { createdAt: checkpoint.createdAt } })
      .exec();
    await sound();
  });

  it('sees a transfer still moving as in flight, and one decided Completed with a leg missing as unbalanced', async () => {
    await reconcileNow(ctx, { full: true });
    const sender = await wallet.fundedUser(80);
    const [recipient] = await wallet.signedUp(1);
    const transactionId = objectId();
    const debit = { transactionId, transactionType: 'Transfer', userId: sender, amount: -30, counterpartyUserId: recipient } as const;
    const terms = { transactionId, type: 'Transfer', fromUserId: sender, toUserId: recipient, amount: 30 } as const;
    await stores().records.open({ transactionId, type: 'Transfer', terms, reason: null });
    await wallet.service.ledger.applyLeg({ ...debit, leg: 'debit' });
    expect(await reconcileNow(ctx)).toMatchObject({ ok: true, conserved: true, unbalanced: [], inFlight: -30 });

    await stores().records.decideCompleted(transactionId);
    const unbalanced = await reconcileNow(ctx);
    expect(unbalanced).toMatchObject({ ok: false, conserved: true, inFlight: -30 });
    expect(unbalanced.unbalanced).toEqual([
      expect.objectContaining({
        transactionId,
        type: 'Transfer',
        status: 'Completed',
        standing: [expect.objectContaining({ leg: 'debit', amount: -30 })],
      }),
    ]);

    await wallet.service.ledger.applyLeg({ ...debit, leg: 'credit', userId: recipient, amount: 30, counterpartyUserId: sender });
    expect(await sound()).toMatchObject({ inFlight: 0 });
  });

  it('reports every transaction not final past the bound with what stands of it, whatever its type and however far it got', async () => {
    const [user, other] = await wallet.signedUp(2);
    const open = async (type: 'TopUp' | 'Transfer') => {
      const transactionId = objectId();
      const terms =
        type === 'TopUp'
          ? ({ transactionId, type, userId: user, amount: 10 } as const)
          : ({ transactionId, type, fromUserId: user, toUserId: other, amount: 4 } as const);
      await stores().records.open({ transactionId, type, terms, reason: null });
      return transactionId;
    };
    // A top-up that never reached its credit, one that reached it, a transfer with both legs: none decided, no execution.
    const [noCredit, credited, bothLegs] = [await open('TopUp'), await open('TopUp'), await open('Transfer')];
    await wallet.service.ledger.applyLeg({ transactionId: credited, transactionType: 'TopUp', leg: 'credit', userId: user, amount: 10 });
    await wallet.service.ledger.applyLeg({
      transactionId: bothLegs,
      transactionType: 'Transfer',
      leg: 'debit',
      userId: user,
      amount: -4,
      counterpartyUserId: other,
    });
    await wallet.service.ledger.applyLeg({
      transactionId: bothLegs,
      transactionType: 'Transfer',
      leg: 'credit',
      userId: other,
      amount: 4,
      counterpartyUserId: user,
    });
    expect(await reconcileNow(ctx)).toMatchObject({ ok: true, stalled: [] });

    for (const id of [noCredit, credited, bothLegs]) {
      await stores()
        .connection.collection('transaction_records')
        .updateOne({ _id: id as never }, { $set: { openedAt: anHourAgo() } });
    }
    const report = await reconcileNow(ctx);
    expect(report).toMatchObject({ ok: false, conserved: true });
    const stalled = Object.fromEntries(report.stalled.map((transaction) => [transaction.transactionId, transaction]));
    expect(stalled[noCredit]).toMatchObject({ type: 'TopUp', status: 'Pending', standing: [] });
    expect(stalled[credited]).toMatchObject({ type: 'TopUp', status: 'Pending', standing: [{ leg: 'credit', userId: user, amount: 10 }] });
    expect(stalled[bothLegs]).toMatchObject({ type: 'Transfer', status: 'Pending', standing: [{ leg: 'debit' }, { leg: 'credit' }] });
    expect(report.stalled).toHaveLength(3);

    await stores().records.decideFailed(noCredit, 'first', { status: 'Failed', reason: 'Operator gave up', undo: 'reversal' });
    await stores().records.decideCompleted(credited);
    await stores().records.decideCompleted(bothLegs);
    await sound();
    expect(await stores().records.toReconcile.list(null, 100)).toEqual([]);
  });

  it('sees a Failed transfer whose standing leg is not undone as stalled past the bound, and settled once undone', async () => {
    const sender = await wallet.fundedUser(60);
    const [recipient] = await wallet.signedUp(1);
    const transactionId = objectId();
    const terms = { transactionId, type: 'Transfer', fromUserId: sender, toUserId: recipient, amount: 20 } as const;
    const debit = {
      transactionId,
      transactionType: 'Transfer',
      leg: 'debit',
      userId: sender,
      amount: -20,
      counterpartyUserId: recipient,
    } as const;
    await stores().records.open({ transactionId, type: 'Transfer', terms, reason: null });
    await wallet.service.ledger.applyLeg(debit);
    await stores().records.decideFailed(transactionId, 'first', { status: 'Failed', reason: 'Chargeback', undo: 'reversal' });
    expect(await reconcileNow(ctx)).toMatchObject({ ok: true, inFlight: -20 });

    await stores()
      .connection.collection('transaction_outcomes')
      .updateOne({ _id: `${transactionId}:1` as never }, { $set: { at: anHourAgo() } });
    expect((await reconcileNow(ctx)).stalled).toEqual([expect.objectContaining({ transactionId, status: 'Failed' })]);

    await wallet.service.ledger.undoLeg(debit, 'reversal');
    expect(await sound()).toMatchObject({ inFlight: 0 });
  });

  it('heartbeats inside a long wallet, stops when cancelled, and a retry resumes the pass where it stopped', async () => {
    const user = await wallet.fundedUser(1);
    for (let i = 0; i < 1_100; i++) {
      await wallet.service.ledger.applyLeg({ transactionId: objectId(), transactionType: 'TopUp', leg: 'credit', userId: user, amount: 1 });
    }
    const cancel = new AbortController();
    const beats: string[] = [];
    const cancelled = passAs('spec-owner', {
      full: true,
      heartbeat: ({ userId }) => {
        if (userId !== user) return;
        beats.push(userId);
        if (beats.length === 66) cancel.abort(new Error('activity cancelled'));
      },
      signal: cancel.signal,
    });
    await expect(cancelled).rejects.toThrow('activity cancelled');
    expect(beats.length).toBeGreaterThanOrEqual(66);
    await expect(passAs('another-owner', { full: true })).rejects.toThrow(PassInProgressError);

    const resumed = await passAs('spec-owner', { full: true });
    expect(resumed).toMatchObject({ mode: 'full' });
    const walkedAgain = await passAs('spec-owner-next', { full: true });
    expect(walkedAgain.pass).toBe(resumed.pass + 1);
    // The resumed attempt walked the long wallet from its saved checkpoint, not from its first entry.
    expect(resumed.entries).toBeLessThan(walkedAgain.entries - 1_000);
    expect(resumed).toMatchObject({ ok: walkedAgain.ok, totalBalance: walkedAgain.totalBalance });
  }, 120_000);

  it('lets one owner run a pass at a time, and another take over a pass abandoned for longer than the bound', async () => {
    const { pass } = await stores().reconciliation.latestCommitted();
    const held = await stores().reconciliation.lease(pass + 1, 'first-owner', 'incremental');
    await expect(stores().reconciliation.lease(pass + 1, 'second-owner', 'incremental')).rejects.toThrow(PassInProgressError);
    await expect(stores().reconciliation.lease(pass + 1, 'first-owner', 'incremental')).resolves.toEqual(held);

    const later = new Date(Date.now() + LEASE_ABANDONED_AFTER_MS + 1_000);
    const takenOver = await stores().reconciliation.lease(pass + 1, 'second-owner', 'incremental', later);
    expect(takenOver.k).toBe(held.k + 1);
    expect(await stores().reconciliation.stillHeld(held)).toBe(false);
    expect(await stores().reconciliation.stillHeld(takenOver)).toBe(true);
    await expect(passAs('first-owner')).rejects.toThrow(PassInProgressError);
    expect(await passAs('second-owner')).toMatchObject({ pass: pass + 1, ok: true });
  });

  it('finishes a full pass taken over as a full pass, so the wallets it walked are counted once', async () => {
    const user = await wallet.fundedUser(40);
    await sound();
    await wallet.topUp(user, 2);
    const { pass } = await stores().reconciliation.latestCommitted();
    const wallets = await stores().ledger.wallets.countDocuments().exec();
    const leftByOperator = new AbortController();
    const abandoned = passAs('operator-who-left', {
      full: true,
      // Every wallet walked from its first entry, the user's included, before the pass is left.
      heartbeat: (progress) =>
        progress.userId === undefined && progress.wallets === wallets && leftByOperator.abort(new Error('operator left')),
      signal: leftByOperator.signal,
    });
    await expect(abandoned).rejects.toThrow('operator left');
    await stores()
      .connection.collection('reconciliation_passes')
      .updateOne({ _id: `lease:${pass + 1}:0` as never }, { $set: { renewedAt: anHourAgo() } });

    const scheduled = await passAs('scheduled-pass');
    expect(scheduled).toMatchObject({ pass: pass + 1, ok: true, conserved: true });
    const walkedAgain = await passAs('spec-check', { full: true });
    expect(scheduled.totalBalance).toBe(walkedAgain.totalBalance);
  });

  it('counts each scheduled pass attempt that throws, for the WalletReconciliationErrors alert', async () => {
    const { pass } = await stores().reconciliation.latestCommitted();
    const held = await stores().reconciliation.lease(pass + 1, 'an-operator-elsewhere', 'incremental');
    const failures = async () => (await wallet.service.metrics.reconciliationFailures.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await failures();
    const run = await wallet.temporal.workflow.start('ledgerReconciliation', {
      taskQueue: wallet.service.config.temporal.taskQueue,
      workflowId: `spec-reconciliation-${objectId()}`,
    });
    try {
      await eventually('the attempt refused by the lease to be counted', async () => ((await failures()) > before ? true : undefined));
    } finally {
      await run.terminate('the spec has seen what it needed');
      await stores()
        .connection.collection('reconciliation_passes')
        .deleteOne({ _id: `lease:${pass + 1}:${held.k}` as never });
    }
  });

  it('gives a ledger from before chains and leg locations both, in its first full pass', async () => {
    const user = await wallet.fundedUser(30);
    const { transactionId } = await wallet.transfer(user, (await wallet.signedUp(1))[0], 7);
    await stores()
      .ledger.entries.updateMany({ userId: new Types.ObjectId(user) }, { $unset: { hash: 1 } })
      .exec();
    await stores().ledger.legLocations.deleteMany({});
    // As a process started on that ledger finds it: no location recorded, not even the marker.
    const legacy = await openStores(wallet.service.config.mongo.url);
    try {
      expect(await legacy.ledger.locationsComplete()).toBe(false);
      const report = await reconcile(reconciliationOver(legacy, wallet.service.ledger), {
        owner: 'migration-spec',
        mode: 'full',
        stalledAfterMs: ctx.stalledAfterMs,
      });
      expect(report).toMatchObject({ ok: true, mode: 'full' });
      expect(await legacy.ledger.locationsComplete()).toBe(true);
    } finally {
      await legacy.close();
    }
    expect(await chainHolds(user)).toBe(true);
    expect((await stores().ledger.entriesLocatedFor(transactionId)).map((entry) => entry.leg).sort()).toEqual(['credit', 'debit']);
  });

  it('judges a transaction whose leg lost its location with its writer, and records it', async () => {
    const [payer, payee] = [await wallet.fundedUser(40), (await wallet.signedUp(1))[0]];
    await sound();
    const transactionId = objectId();
    const terms = { transactionId, type: 'Transfer', fromUserId: payer, toUserId: payee, amount: 5 } as const;
    await stores().records.open({ transactionId, type: 'Transfer', terms, reason: null });
    const debit = {
      transactionId,
      transactionType: 'Transfer',
      leg: 'debit',
      userId: payer,
      amount: -5,
      counterpartyUserId: payee,
    } as const;
    await wallet.service.ledger.applyLeg(debit);
    await stores().ledger.legLocations.deleteOne({ _id: `${transactionId}:debit:out` });

    expect(await reconcileNow(ctx)).toMatchObject({ ok: true, inFlight: -5 });
    expect((await stores().ledger.entriesLocatedFor(transactionId)).map((entry) => entry.leg)).toEqual(['debit']);
    await wallet.service.ledger.applyLeg({ ...debit, leg: 'credit', userId: payee, amount: 5, counterpartyUserId: payer });
    await stores().records.decideCompleted(transactionId);
    expect(await sound()).toMatchObject({ inFlight: 0 });
  });

  it('runs as a workflow whose drift fails the run', async () => {
    const victim = await wallet.fundedUser(10);
    await wallet.topUp(victim, 1);
    await stores()
      .ledger.wallets.updateOne({ _id: walletIdOf(victim) }, { $set: { balance: 12 } })
      .exec();
    const run = await wallet.temporal.workflow.start('ledgerReconciliation', {
      taskQueue: wallet.service.config.temporal.taskQueue,
      workflowId: `reconciliation-spec-${objectId()}`,
      workflowExecutionTimeout: '5 minutes',
    });
    await expect(run.result()).rejects.toThrow(/Workflow execution failed/);
    expect((await run.describe()).status.name).toBe('FAILED');
    await stores()
      .ledger.wallets.updateOne({ _id: walletIdOf(victim) }, { $set: { balance: 11 } })
      .exec();
    const clean = await wallet.temporal.workflow.execute('ledgerReconciliation', {
      taskQueue: wallet.service.config.temporal.taskQueue,
      workflowId: `reconciliation-spec-${objectId()}`,
      workflowExecutionTimeout: '5 minutes',
    });
    expect(clean).toMatchObject({ ok: true, mode: 'incremental' });
  });
});
