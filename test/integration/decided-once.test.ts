import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { Types } from 'mongoose';
import type { TransactionFinalized } from '../../src/domain';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import type { LedgerEntryDocument, LedgerStore } from '../../src/ledger';
import { QUEUES } from '../../src/messaging/topology';
import { LegGate } from '../support/leg-gate';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

// A transaction decided once, on the real servers: however many runs execute a transaction (after a
// terminate, a task taken over, an execution that closed without settling it, or a ledger older than
// the record), the legs standing match the one outcome announced.
describe('a transaction decided once', () => {
  const gate = new LegGate();
  let wallet: WalletHarness;
  let held: HeldInserts;

  beforeAll(async () => {
    wallet = await WalletHarness.start('decided-once');
    gate.install(wallet.service.ledger);
    held = new HeldInserts(wallet.service.stores.ledger);
  });
  afterAll(async () => {
    held.releaseAll();
    await wallet.stop();
  });

  /** The one invariant: Completed, exactly the forward legs stand; Failed, nothing stands. Returns the statuses announced. */
  async function expectLedgerToMatchAnnouncements(transactionId: string): Promise<string> {
    const statuses = wallet.platform
      .finalizationsOf(transactionId)
      .map((f: TransactionFinalized) => f.status)
      .filter((status, i, all) => i === 0 || all[i - 1] !== status);
    expect(['Completed', 'Failed', 'Completed,Failed']).toContain(statuses.join(','));
    const entries = await wallet.entriesOfTransaction(transactionId);
    const undone = new Set(entries.filter((e) => e.leg === 'compensation' || e.leg === 'reversal').map((e) => e.userId.toHexString()));
    const standing = entries.filter((e) => (e.leg === 'debit' || e.leg === 'credit') && !undone.has(e.userId.toHexString()));
    const forwardLegs = entries.filter((e) => e.leg === 'debit' || e.leg === 'credit');
    if (statuses.at(-1) === 'Failed') expect(standing.map((e) => e.leg)).toEqual([]);
    else expect({ standing: standing.length, undone: undone.size }).toEqual({ standing: forwardLegs.length, undone: 0 });
    return statuses.join(',');
  }

  it('two runs at once: a credit held mid-insert in a terminated run cannot land once another run rolled the transfer back', async () => {
    const sender = await wallet.fundedUser(100);
    const [recipient] = await wallet.signedUp(1);
    const transactionId = objectId();
    const credit = held.hold(transactionId, 'credit');
    wallet.platform.transfer(transactionId, sender, recipient, 50);
    await credit.reached;
    // The run is frozen inside its credit; an operator terminates it (its local activity goes on),
    // and transaction.failed starts another run.
    await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).terminate('decided-once spec: frozen run');
    wallet.platform.failed(transactionId, 'Transfer', 'Declined');
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Declined' });
    credit.release();
    expect(await credit.inserted).toBe('refused');
    expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([100, 0]);
    expect(await wallet.voidedLegsOf(transactionId)).toEqual([`credit ${recipient}`]);
    expect(await expectLedgerToMatchAnnouncements(transactionId)).toBe('Failed');
    await wallet.expectConsistentWallet(recipient);
  });

  it('a run holding only a damaged copy of transaction.completed finishes the transfer an earlier, terminated run began', async () => {
    const sender = await wallet.fundedUser(100);
    const [recipient] = await wallet.signedUp(1);
    const transactionId = objectId();
    // The earlier run stops before its credit, and an operator terminates it.
    const frozenCredit = gate.arm(transactionId, 'credit');
    wallet.platform.transfer(transactionId, sender, recipient, 50);
    await frozenCredit.arrived;
    await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).terminate('decided-once spec: stalled run');
    // The transactions service's damaged copy: the wallet rejects it, but its record has the terms.
    wallet.platform.completed({ transactionId, type: 'Transfer', fromUserId: sender, toUserId: recipient, amount: 'fifty' });
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
    expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([50, 50]);
    frozenCredit.open();
    expect(await expectLedgerToMatchAnnouncements(transactionId)).toBe('Completed');
    const letters = await wallet.platform.drainDeadLetters();
    expect(letters.map((l) => l.reason)).toEqual(['amount: must be a number']);
  });

  it('an execution that closed without settling its transaction does not swallow the next event: a new run settles it', async () => {
    const [user] = await wallet.signedUp(1);
    const transactionId = objectId();
    await closeUnsettled(transactionId);
    wallet.platform.topUp(transactionId, user, 300);
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
    expect(await wallet.balanceOf(user)).toBe(300);
  });

  /** An execution under the transaction's id, started by hand, that completes without opening its record. */
  async function closeUnsettled(transactionId: string): Promise<void> {
    const taskQueue = `decided-once-unsettled-${objectId()}`;
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: process.env.WALLET_TEST_TEMPORAL_ADDRESS! }),
      taskQueue,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../support/unsettled-workflow'), logger: silentLogger() }),
    });
    await worker.runUntil(
      wallet.temporal.workflow.execute('walletTransaction', {
        workflowId: transactionWorkflowId(transactionId),
        taskQueue,
        args: [{ transactionId }],
      }),
    );
    expect(await wallet.settled(transactionId)).toBe('COMPLETED');
  }

  describe('a transaction whose legs were applied before transactions had records', () => {
    /** Entries as the release before records wrote them: no record, no underRecord mark. */
    async function appliedBeforeRecords(
      changes: Array<{
        leg: 'debit' | 'credit' | 'compensation' | 'reversal';
        userId: string;
        amount: number;
        counterpartyUserId?: string;
      }>,
      transactionId: string,
      type: 'TopUp' | 'Transfer',
    ) {
      for (const change of changes) await wallet.service.ledger.applyLeg({ transactionId, transactionType: type, ...change });
      await wallet.service.stores.ledger.entries
        .updateMany({ transactionId: new Types.ObjectId(transactionId) }, { $unset: { underRecord: 1 } })
        .exec();
    }

    /** The recipient has signed up since; the transfer of 40 comes again, and stays undone: Failed, nobody credited. */
    async function expectCompensatedTransferRedeliveredAsFailed(sender: string, recipient: string, transactionId: string) {
      wallet.platform.signup(recipient);
      await eventually('the recipient wallet', async () => ((await wallet.balanceOf(recipient)) === 0 ? true : undefined));
      wallet.platform.transfer(transactionId, sender, recipient, 40);
      expect(await wallet.platform.finalizationOf(transactionId)).toMatchObject({ transactionId, status: 'Failed' });
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([100, 0]);
      expect(await expectLedgerToMatchAnnouncements(transactionId)).toBe('Failed');
    }

    it('a redelivered transaction.completed of a transfer compensated back then is announced Failed, and credits nobody', async () => {
      const sender = await wallet.fundedUser(100);
      const recipient = objectId();
      const transactionId = objectId();
      // Back then the recipient had no wallet: the debit was compensated.
      await appliedBeforeRecords(
        [
          { leg: 'debit', userId: sender, amount: -40, counterpartyUserId: recipient },
          { leg: 'compensation', userId: sender, amount: 40, counterpartyUserId: recipient },
        ],
        transactionId,
        'Transfer',
      );
      await expectCompensatedTransferRedeliveredAsFailed(sender, recipient, transactionId);
      expect(await wallet.service.stores.records.statusOf(transactionId)).toBe('Failed');
    });

    it('a redelivered transaction.completed of a transfer completed back then is announced Completed, each leg once', async () => {
      const sender = await wallet.fundedUser(100);
      const [recipient] = await wallet.signedUp(1);
      const transactionId = objectId();
      await appliedBeforeRecords(
        [
          { leg: 'debit', userId: sender, amount: -40, counterpartyUserId: recipient },
          { leg: 'credit', userId: recipient, amount: 40, counterpartyUserId: sender },
        ],
        transactionId,
        'Transfer',
      );
      wallet.platform.transfer(transactionId, sender, recipient, 40);
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([60, 40]);
      expect(await expectLedgerToMatchAnnouncements(transactionId)).toBe('Completed');
    });

    it('a redelivered transaction.completed of a transfer a run of the release before compensated, then left without its decision, is announced Failed', async () => {
      const sender = await wallet.fundedUser(100);
      const recipient = objectId();
      const transactionId = objectId();
      const terms = { transactionId, type: 'Transfer', fromUserId: sender, toUserId: recipient, amount: 40 } as const;
      const debit = {
        transactionId,
        transactionType: 'Transfer',
        leg: 'debit',
        userId: sender,
        amount: -40,
        counterpartyUserId: recipient,
      } as const;
      // That release opened the record with its terms, compensated the debit when the recipient had no
      // wallet, and recorded its decision last: its execution was terminated in between.
      await wallet.service.stores.records.open({ transactionId, type: 'Transfer', terms, reason: null });
      await wallet.service.ledger.applyLeg(debit);
      await wallet.service.ledger.undoLeg(debit, 'compensation');
      await expectCompensatedTransferRedeliveredAsFailed(sender, recipient, transactionId);
    });

    it('transaction.failed of a top-up completed back then takes the credit back', async () => {
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      await appliedBeforeRecords([{ leg: 'credit', userId: user, amount: 70 }], transactionId, 'TopUp');
      wallet.platform.failed(transactionId, 'TopUp', 'Chargeback');
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Chargeback' });
      expect(await wallet.balanceOf(user)).toBe(0);
      expect(await expectLedgerToMatchAnnouncements(transactionId)).toBe('Failed');
    });
  });

  it('acks a duplicate event of a settled transaction without starting a run, but starts one for a decision never announced', async () => {
    const [user] = await wallet.signedUp(1);
    const settledTopUp = await wallet.topUp(user, 10);
    await wallet.settled(settledTopUp.transactionId);
    const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
    wallet.platform.topUp(settledTopUp.transactionId, user, 10);
    await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 1);
    expect(await runsOf(settledTopUp.transactionId)).toBe(1);

    // A decision recorded by a run that died before announcing it, whose execution is gone.
    const transactionId = objectId();
    const terms = { transactionId, type: 'TopUp', userId: user, amount: 5 } as const;
    await wallet.service.stores.records.open({ transactionId, type: 'TopUp', terms, reason: null });
    await wallet.service.ledger.applyLeg({ transactionId, transactionType: 'TopUp', leg: 'credit', userId: user, amount: 5 });
    await wallet.service.stores.records.decideCompleted(transactionId);
    wallet.platform.topUp(transactionId, user, 5);
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
    expect(await wallet.balanceOf(user)).toBe(15);
  });

  async function runsOf(transactionId: string): Promise<number> {
    const runs: string[] = [];
    for await (const run of wallet.temporal.workflow.list({ query: `WorkflowId = "${transactionWorkflowId(transactionId)}"` }))
      runs.push(run.runId);
    return runs.length;
  }
});

/**
 * Holds the ledger's insert of one chosen forward leg's entry, as a process frozen just before it
 * writes: the insert goes on, whatever happened meanwhile, once released.
 */
class HeldInserts {
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly store: Pick<LedgerStore, 'insertEntry'>) {}

  hold(
    transactionId: string,
    leg: 'debit' | 'credit',
  ): { reached: Promise<void>; release: () => void; inserted: Promise<'written' | 'refused'> } {
    const insertEntry = this.store.insertEntry.bind(this.store);
    let reached!: () => void;
    let release!: () => void;
    let inserted!: (outcome: 'written' | 'refused') => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.waiting.push(release);
    const holding = {
      reached: new Promise<void>((resolve) => (reached = resolve)),
      release,
      inserted: new Promise<'written' | 'refused'>((resolve) => (inserted = resolve)),
    };
    this.store.insertEntry = async (entry: LedgerEntryDocument) => {
      if (entry.transactionId?.toHexString() !== transactionId || entry.leg !== leg) return insertEntry(entry);
      // Only the first such insert is held; the runs that come after write as usual.
      this.store.insertEntry = insertEntry;
      reached();
      await released;
      const written = await insertEntry(entry);
      inserted(written ? 'written' : 'refused');
      return written;
    };
    return holding;
  }

  releaseAll(): void {
    this.waiting.forEach((release) => release());
  }
}

function silentLogger() {
  const nothing = () => undefined;
  return { trace: nothing, debug: nothing, info: nothing, warn: nothing, error: console.error, log: nothing };
}
