import { QUEUES } from '../../src/messaging/topology';
import { transactionCompletedSignal, transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

// A transaction's outcome outlives its Temporal executions. Each spec deletes the executions through
// the Temporal API, as the namespace's retention does, and then redelivers the transaction's events.
describe('the transaction record', () => {
  let wallet: WalletHarness;

  beforeAll(async () => {
    wallet = await WalletHarness.start('records');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  it('holds each transaction once, with its parties and outcome; its legs are in the ledger', async () => {
    const sender = await wallet.fundedUser(500);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId } = await wallet.transfer(sender, recipient, 120);
    await wallet.settled(transactionId);
    expect(await wallet.service.stores.records.find(transactionId)).toMatchObject({
      _id: transactionId,
      type: 'Transfer',
      userIds: [sender, recipient],
      amount: 120,
      status: 'Completed',
      reason: null,
      outcomes: [{ status: 'Completed', reason: null }],
    });
    const outcome = await wallet.service.stores.connection
      .collection('transaction_outcomes')
      .findOne({ _id: `${transactionId}:1` as never });
    expect(outcome).not.toHaveProperty('legs');
    expect(
      (await wallet.service.stores.ledger.entriesLocatedFor(transactionId)).map((e) => [e.leg, e.userId.toHexString(), e.amount]),
    ).toEqual([
      ['debit', sender, -120],
      ['credit', recipient, 120],
    ]);
  });

  describe('once retention has deleted the executions', () => {
    interface Transfer {
      transactionId: string;
      sender: string;
      recipient: string;
      amount: number;
    }
    const scenarios: Record<'completed' | 'refused' | 'rolledBack' | 'toRollBack', Transfer> = {} as never;
    const refusal = { status: 'Failed', reason: 'Insufficient balance' } as const;

    async function transferred(funds: number, amount: number): Promise<Transfer> {
      const sender = await wallet.fundedUser(funds);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, amount);
      return { transactionId, sender, recipient: recipient, amount };
    }

    beforeAll(async () => {
      scenarios.completed = await transferred(400, 150);
      scenarios.refused = await transferred(10, 50);
      scenarios.rolledBack = await transferred(300, 100);
      wallet.platform.failed(scenarios.rolledBack.transactionId, 'Transfer', 'Chargeback');
      await wallet.platform.finalizationsCount(scenarios.rolledBack.transactionId, 2);
      scenarios.toRollBack = await transferred(300, 90);
      // Retention passes over all of them at once (each deletion takes the dev server 20-35 s).
      await Promise.all(Object.values(scenarios).map((t) => wallet.forgetExecutions(t.transactionId)));
    }, 180_000);

    async function redeliverCompleted({ transactionId, sender, recipient, amount }: Transfer) {
      const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
      wallet.platform.transfer(transactionId, sender, recipient, amount);
      await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 1);
    }

    async function redeliverFailed({ transactionId }: Transfer, reason: string) {
      const before = await wallet.consumedFrom(QUEUES.transactionFailed);
      wallet.platform.failed(transactionId, 'Transfer', reason);
      await wallet.consumedAtLeast(QUEUES.transactionFailed, before, 1);
    }

    const balancesOf = async ({ sender, recipient }: Transfer) => [await wallet.balanceOf(sender), await wallet.balanceOf(recipient)];
    const legsOf = async ({ transactionId }: Transfer) => (await wallet.entriesOfTransaction(transactionId)).map((e) => e.leg);
    const announced = ({ transactionId }: Transfer) => wallet.platform.finalizationsOf(transactionId);
    /** The bridge started nothing: Temporal still knows no execution of the transaction. */
    const expectNoExecution = async ({ transactionId }: Transfer) =>
      expect(await wallet.executionStatus(transactionWorkflowId(transactionId))).toBeUndefined();

    it('completed after Completed: moves no money and announces nothing', async () => {
      const t = scenarios.completed;
      await redeliverCompleted(t);
      expect(await balancesOf(t)).toEqual([250, 150]);
      expect(announced(t)).toEqual([{ transactionId: t.transactionId, status: 'Completed' }]);
      await expectNoExecution(t);
    });

    it('completed after Failed for want of balance: still Failed once the sender has the money', async () => {
      const t = scenarios.refused;
      await wallet.topUp(t.sender, 100);
      await redeliverCompleted(t);
      expect(await balancesOf(t)).toEqual([110, 0]);
      expect(await legsOf(t)).toEqual([]);
      expect(announced(t)).toEqual([{ transactionId: t.transactionId, ...refusal }]);
      await expectNoExecution(t);
    });

    it('failed after Failed for want of balance: announces nothing new', async () => {
      const t = scenarios.refused;
      await redeliverFailed(t, 'Timed out');
      expect(announced(t)).toEqual([{ transactionId: t.transactionId, ...refusal }]);
      await expectNoExecution(t);
    });

    it('completed after Failed by a rollback: the legs it reversed are not taken for "already applied"', async () => {
      const t = scenarios.rolledBack;
      await redeliverCompleted(t);
      expect(await balancesOf(t)).toEqual([300, 0]);
      expect(await legsOf(t)).toEqual(['debit', 'credit', 'reversal', 'reversal']);
      expect(announced(t).map((f) => f.status)).toEqual(['Completed', 'Failed']);
      await expectNoExecution(t);
    });

    it('failed after Completed: reverses what stands from the ledger and announces Failed once', async () => {
      const t = scenarios.toRollBack;
      wallet.platform.failed(t.transactionId, 'Transfer', 'Settlement rejected');
      expect(await wallet.platform.finalizationsCount(t.transactionId, 2)).toEqual([
        { transactionId: t.transactionId, status: 'Completed' },
        { transactionId: t.transactionId, status: 'Failed', reason: 'Settlement rejected' },
      ]);
      await wallet.settled(t.transactionId);
      expect(await balancesOf(t)).toEqual([300, 0]);
      expect(await wallet.service.stores.records.find(t.transactionId)).toMatchObject({
        status: 'Failed',
        reason: 'Settlement rejected',
        outcomes: [{ status: 'Completed' }, { status: 'Failed', reason: 'Settlement rejected' }],
      });

      // Once that execution is gone too, neither event changes anything again.
      await wallet.forgetExecutions(t.transactionId);
      await redeliverFailed(t, 'Settlement rejected');
      await redeliverCompleted(t);
      expect(await balancesOf(t)).toEqual([300, 0]);
      expect(await legsOf(t)).toEqual(['debit', 'credit', 'reversal', 'reversal']);
      expect(announced(t)).toHaveLength(2);
      await expectNoExecution(t);
    }, 120_000);
  });

  it('an execution started for a transaction already final (an event racing the record) ends at its first step, announcing nothing again', async () => {
    const [user] = await wallet.signedUp(1);
    const transactionId = objectId();
    wallet.platform.topUp(transactionId, user, 70);
    await wallet.platform.finalizationOf(transactionId);
    await wallet.forgetExecutions(transactionId);
    // What the bridge would do had it read the record a moment before the outcome was written.
    const handle = await wallet.temporal.workflow.signalWithStart('walletTransaction', {
      workflowId: transactionWorkflowId(transactionId),
      taskQueue: wallet.service.config.temporal.taskQueue,
      args: [{ transactionId }],
      signal: transactionCompletedSignal,
      signalArgs: [{ transactionId, type: 'TopUp', userId: user, amount: 70 }],
    });
    const state = await handle.result();
    // It makes sure the recorded outcome went out; the broker's echo shows it did.
    expect(state).toMatchObject({
      recorded: 'Completed',
      legs: [],
      finalizations: [{ status: 'Completed' }],
      step: 'closed',
    });
    expect(await wallet.balanceOf(user)).toBe(70);
    expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
  });
});
