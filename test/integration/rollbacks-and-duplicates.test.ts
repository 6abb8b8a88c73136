import { Types } from 'mongoose';
import { operatorRetrySignal, SEARCH_ATTRIBUTES, transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { EXCHANGES, QUEUES, ROUTING_KEYS } from '../../src/messaging/topology';
import { LegGate } from '../support/leg-gate';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

describe('duplicates and transaction.failed', () => {
  const gate = new LegGate();
  let wallet: WalletHarness;

  beforeAll(async () => {
    wallet = await WalletHarness.start('rollbacks');
    gate.install(wallet.service.ledger);
  });
  afterAll(async () => {
    await wallet.stop();
  });

  const settled = (transactionId: string) => wallet.settled(transactionId);
  /** Every run the transaction's execution id has had. */
  async function runsOf(transactionId: string): Promise<string[]> {
    const runs: string[] = [];
    for await (const run of wallet.temporal.workflow.list({ query: `WorkflowId = "${transactionWorkflowId(transactionId)}"` }))
      runs.push(run.runId);
    return runs;
  }

  describe('a redelivered or duplicated transaction.completed', () => {
    it('is applied once and finalized once when the copies arrive together', async () => {
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
      for (let copy = 0; copy < 3; copy++) wallet.platform.topUp(transactionId, user, 700);
      await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 3);
      await wallet.platform.finalizationOf(transactionId);
      await settled(transactionId);
      expect(wallet.platform.finalizationsOf(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);
      expect(await wallet.balanceOf(user)).toBe(700);
      expect(await wallet.entriesOfTransaction(transactionId)).toHaveLength(1);
    });

    it('is applied once when copies arrive after the transaction was finalized', async () => {
      const sender = await wallet.fundedUser(400);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, 150);
      await settled(transactionId);
      const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
      wallet.platform.transfer(transactionId, sender, recipient, 150);
      wallet.platform.transfer(transactionId, sender, recipient, 150);
      await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 2);
      expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([250, 150]);
      expect(await wallet.entriesOfTransaction(transactionId)).toHaveLength(2);
    });

    it('starts no second run for a transaction its record holds final and announced', async () => {
      const sender = await wallet.fundedUser(10);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId, finalized } = await wallet.transfer(sender, recipient, 11);
      expect(finalized.status).toBe('Failed');
      expect(await settled(transactionId)).toBe('COMPLETED');
      const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
      wallet.platform.transfer(transactionId, sender, recipient, 5);
      await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 1);
      expect(await runsOf(transactionId)).toHaveLength(1);
      expect(await wallet.entriesOfTransaction(transactionId)).toEqual([]);
      expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
    });

    it('finishes, each leg once, a transaction whose execution was terminated half-way when a copy of its event arrives', async () => {
      const sender = await wallet.fundedUser(300);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId, repair } = await wallet.transferStuckOnCredit(sender, recipient, 120);
      await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).terminate('an operator gave up on it');
      await repair();

      wallet.platform.transfer(transactionId, sender, recipient, 120);
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => e.leg).sort()).toEqual(['credit', 'debit']);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([180, 120]);
      expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
    });
  });

  describe('transaction.failed', () => {
    it('before the completed event: finalizes Failed with its reason and the completed event later changes nothing', async () => {
      const sender = await wallet.fundedUser(500);
      const [recipient] = await wallet.signedUp(1);
      const transactionId = objectId();
      wallet.platform.failed(transactionId, 'Transfer', 'Card declined');
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Card declined' });
      const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
      wallet.platform.transfer(transactionId, sender, recipient, 100);
      await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 1);
      await settled(transactionId);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([500, 0]);
      expect(await wallet.entriesOfTransaction(transactionId)).toEqual([]);
      expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
    });

    it('during straight-through processing: the transfer completes, then both legs are reversed and it is finalized Failed', async () => {
      const sender = await wallet.fundedUser(500);
      const [recipient] = await wallet.signedUp(1);
      const transactionId = objectId();
      const debit = gate.arm(transactionId, 'debit');
      wallet.platform.transfer(transactionId, sender, recipient, 200);
      await debit.arrived;
      wallet.platform.failed(transactionId, 'Transfer', 'Fraud check failed');
      await eventually('the failure to reach the running workflow', async () =>
        (await wallet.workflowState(transactionId)).failedEvent ? true : undefined,
      );
      debit.open();
      // The step under way was one: for the run, the event came after it.
      expect(await wallet.platform.finalizationsCount(transactionId, 2)).toEqual([
        { transactionId, status: 'Completed' },
        { transactionId, status: 'Failed', reason: 'Fraud check failed' },
      ]);
      await settled(transactionId);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => [e.leg, e.userId.toHexString(), e.amount])).toEqual([
        ['debit', sender, -200],
        ['credit', recipient, 200],
        ['reversal', recipient, -200],
        ['reversal', sender, 200],
      ]);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([500, 0]);
      await wallet.expectConsistentWallet(sender);
    });

    it('after the transfer completed: reverses both legs, newest first, and finalizes Failed', async () => {
      const sender = await wallet.fundedUser(500);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, 300);
      wallet.platform.failed(transactionId, 'Transfer', 'Settlement rejected');
      const finalizations = await wallet.platform.finalizationsCount(transactionId, 2);
      expect(finalizations).toEqual([
        { transactionId, status: 'Completed' },
        { transactionId, status: 'Failed', reason: 'Settlement rejected' },
      ]);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => [e.leg, e.userId.toHexString(), e.amount])).toEqual([
        ['debit', sender, -300],
        ['credit', recipient, 300],
        ['reversal', recipient, -300],
        ['reversal', sender, 300],
      ]);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([500, 0]);
      await wallet.expectConsistentWallet(sender);
      await wallet.expectConsistentWallet(recipient);
    });

    it('after a completed top-up: takes the credit back', async () => {
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      wallet.platform.topUp(transactionId, user, 900);
      await wallet.platform.finalizationOf(transactionId);
      wallet.platform.failed(transactionId, 'TopUp', 'Payment reversed');
      await wallet.platform.finalizationsCount(transactionId, 2);
      expect(await wallet.balanceOf(user)).toBe(0);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => e.leg)).toEqual(['credit', 'reversal']);
    });

    it('without a type the wallet knows (a damaged copy): still rolls back the transaction it names', async () => {
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      wallet.platform.topUp(transactionId, user, 300);
      await wallet.platform.finalizationOf(transactionId);
      wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFailed, { transactionId, reason: 'Payment reversed' });
      await wallet.platform.finalizationsCount(transactionId, 2);
      expect(wallet.platform.finalizationsOf(transactionId)[1]).toEqual({ transactionId, status: 'Failed', reason: 'Payment reversed' });
      expect(await wallet.balanceOf(user)).toBe(0);
    });

    it('repeated after a completed transfer: reverses it exactly once', async () => {
      const sender = await wallet.fundedUser(100);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, 60);
      for (let copy = 0; copy < 3; copy++) wallet.platform.failed(transactionId, 'Transfer', 'Reversed');
      await wallet.platform.finalizationsCount(transactionId, 2);
      expect(await settled(transactionId)).toBe('COMPLETED');
      const before = await wallet.consumedFrom(QUEUES.transactionFailed);
      wallet.platform.failed(transactionId, 'Transfer', 'Reversed');
      await wallet.consumedAtLeast(QUEUES.transactionFailed, before, 1);
      expect(wallet.platform.finalizationsOf(transactionId).map((f) => f.status)).toEqual(['Completed', 'Failed']);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => e.leg)).toEqual(['debit', 'credit', 'reversal', 'reversal']);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([100, 0]);
    });

    it('after the wallet already finalized the transaction Failed: changes nothing and announces nothing new', async () => {
      const sender = await wallet.fundedUser(10);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId, finalized } = await wallet.transfer(sender, recipient, 50);
      expect(finalized.reason).toBe('Insufficient balance');
      await settled(transactionId);
      const before = await wallet.consumedFrom(QUEUES.transactionFailed);
      wallet.platform.failed(transactionId, 'Transfer', 'Timed out');
      await wallet.consumedAtLeast(QUEUES.transactionFailed, before, 1);
      expect(wallet.platform.finalizationsOf(transactionId)).toEqual([finalized]);
      expect(await wallet.entriesOfTransaction(transactionId)).toEqual([]);
    });

    it('reverses a leg applied before its transaction had a record, when transaction.failed is the first event seen', async () => {
      // The ledger alone knows the credit: it takes the record's terms from it.
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      await wallet.service.ledger.applyLeg({ transactionId, transactionType: 'TopUp', leg: 'credit', userId: user, amount: 1704 });
      wallet.platform.failed(transactionId, 'TopUp', 'Chaos rollback');
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Chaos rollback' });
      expect(await wallet.balanceOf(user)).toBe(0);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => e.leg)).toEqual(['credit', 'reversal']);
      await wallet.expectConsistentWallet(user);
    });

    it('for a transaction the wallet never saw: changes nothing and finalizes Failed', async () => {
      const transactionId = objectId();
      wallet.platform.failed(transactionId, 'TopUp', 'Expired');
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Expired' });
      expect(await wallet.entriesOfTransaction(transactionId)).toEqual([]);
    });

    it('after the transaction settled Completed and its execution closed: a new run of it rolls it back from the record', async () => {
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      wallet.platform.topUp(transactionId, user, 40);
      await wallet.platform.finalizationOf(transactionId);
      expect(await settled(transactionId)).toBe('COMPLETED');
      wallet.platform.failed(transactionId, 'TopUp', 'Chargeback');
      expect((await wallet.platform.finalizationsCount(transactionId, 2))[1]).toEqual({
        transactionId,
        status: 'Failed',
        reason: 'Chargeback',
      });
      expect(await settled(transactionId)).toBe('COMPLETED');
      expect(await runsOf(transactionId)).toHaveLength(2);
      const rollback = await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).describe();
      expect(rollback.typedSearchAttributes.get(SEARCH_ATTRIBUTES.transactionId)).toBe(transactionId);
      expect((await wallet.workflowState(transactionId)).legs).toMatchObject([{ leg: 'reversal', userId: user, amount: -40 }]);
      expect(await wallet.balanceOf(user)).toBe(0);
      expect(await wallet.platform.drainDeadLetters()).toEqual([]);
    });

    it("undoes a transfer's credit before its debit, whatever clocks stamped their entries", async () => {
      const sender = await wallet.fundedUser(300);
      const [recipient, third] = await wallet.signedUp(2);
      const { transactionId } = await wallet.transfer(sender, recipient, 300);
      await wallet.transfer(recipient, third, 250);
      await wallet.settled(transactionId);
      // The debit's worker ran an hour ahead of the credit's.
      await wallet.service.stores.ledger.entries
        .updateOne(
          { transactionId: new Types.ObjectId(transactionId), leg: 'debit' },
          { $set: { createdAt: new Date(Date.now() + 3_600_000) } },
        )
        .exec();
      wallet.platform.failed(transactionId, 'Transfer', 'Chargeback');
      await eventually('the rollback to ask for an operator', async () =>
        (await wallet.workflowState(transactionId)).status === 'NeedsOperator' ? true : undefined,
      );
      // The recipient cannot pay it back, so the sender must not have been refunded yet.
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([0, 50]);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => e.leg).sort()).toEqual(['credit', 'debit']);

      await wallet.topUp(recipient, 250);
      await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).signal(operatorRetrySignal);
      await wallet.platform.finalizationsCount(transactionId, 2);
      expect((await wallet.workflowState(transactionId)).legs.map((leg) => [leg.leg, leg.userId])).toEqual([
        ['reversal', recipient],
        ['reversal', sender],
      ]);
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([300, 0]);
    });

    it('whose reversal the recipient can no longer pay waits for an operator, then completes on the retry signal', async () => {
      const sender = await wallet.fundedUser(300);
      const [recipient, third] = await wallet.signedUp(2);
      const { transactionId } = await wallet.transfer(sender, recipient, 300);
      const spent = await wallet.transfer(recipient, third, 250);
      expect(spent.finalized.status).toBe('Completed');
      wallet.platform.failed(transactionId, 'Transfer', 'Chargeback');
      const stuck = await eventually('the rollback to ask for an operator', async () => {
        const state = await wallet.workflowState(transactionId);
        return state.status === 'NeedsOperator' ? state : undefined;
      });
      expect(stuck.attention).toMatch(/reversal of the credit of user .* refused \(InsufficientBalance\)/);
      expect(wallet.platform.finalizationsOf(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);

      await wallet.topUp(recipient, 250);
      await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).signal(operatorRetrySignal);
      const finalizations = await wallet.platform.finalizationsCount(transactionId, 2);
      expect(finalizations[1]).toEqual({ transactionId, status: 'Failed', reason: 'Chargeback' });
      expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient), await wallet.balanceOf(third)]).toEqual([300, 0, 250]);
      await wallet.expectConsistentWallet(recipient);
    });
  });
});
