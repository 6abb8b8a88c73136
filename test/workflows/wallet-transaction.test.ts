import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  operatorRetrySignal,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  transactionReversalWorkflowId,
  transactionStateQuery,
  transactionWorkflowId,
  type TransactionCompleted,
  type TransactionFailed,
  type TransactionState,
} from '../../workflows/contract';
import type { walletReversal } from '../../workflows/wallet-reversal';
import type { walletTransaction } from '../../workflows/wallet-transaction';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { InMemoryWallet } from './support/in-memory-wallet';
import { WorkflowSpecs } from './support/workflow-specs';

// The transaction workflows' paths on the test run's Temporal server, with in-memory activities:
// no database, no broker. The integration specs run the same paths on the real servers.
describe('the transaction workflow', () => {
  const wallet = new InMemoryWallet();
  const specs = new WorkflowSpecs(wallet);
  let client: Client;
  let taskQueue: string;

  beforeAll(async () => {
    ({ client, taskQueue } = await specs.start());
  });
  afterAll(() => specs.stop());

  function start(
    first: { signal: 'completed'; event: TransactionCompleted } | { signal: 'failed'; event: TransactionFailed },
    workflowTaskTimeout = '10s',
  ) {
    const signal = first.signal === 'completed' ? transactionCompletedSignal : transactionFailedSignal;
    return client.workflow.signalWithStart<typeof walletTransaction, [typeof first.event]>('walletTransaction', {
      workflowId: transactionWorkflowId(first.event.transactionId),
      taskQueue,
      args: [{ transactionId: first.event.transactionId }],
      signal,
      signalArgs: [first.event],
      workflowTaskTimeout,
    });
  }
  const completed = (event: TransactionCompleted) => start({ signal: 'completed', event }).then((handle) => handle.result());
  const transferOf = (fromUserId: string, toUserId: string, amount: number): TransactionCompleted => ({
    transactionId: objectId(),
    type: 'Transfer',
    fromUserId,
    toUserId,
    amount,
  });
  const announcedFor = (transactionId: string) => wallet.announced.filter((a) => a.transactionId === transactionId);

  it('credits a top-up and announces it Completed', async () => {
    const user = wallet.open(objectId());
    const transactionId = objectId();
    const state = await completed({ transactionId, type: 'TopUp', userId: user, amount: 700 });
    expect(state).toMatchObject({ status: 'Completed', step: 'closed', legs: [{ leg: 'credit', userId: user, amount: 700 }] });
    expect(wallet.balances.get(user)).toBe(700);
    expect(announcedFor(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);
    expect(wallet.records.get(transactionId)).toEqual({ status: 'Completed' });
  });

  it('debits the sender, then credits the recipient', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 500), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 200);
    await completed(transfer);
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -200],
      ['credit', recipient, 200],
    ]);
    expect(announcedFor(transfer.transactionId)).toEqual([{ transactionId: transfer.transactionId, status: 'Completed' }]);
  });

  it('refuses a transfer over the balance on its first attempt, applying nothing', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 10), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 11);
    await completed(transfer);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Insufficient balance' },
    ]);
    expect(wallet.legsOf(transfer.transactionId)).toEqual([]);
    expect(wallet.attempts.filter((a) => a.transactionId === transfer.transactionId)).toHaveLength(1);
  });

  it('refuses a transfer from a user without a wallet', async () => {
    const transfer = transferOf(objectId(), wallet.open(objectId()), 5);
    await completed(transfer);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Sender wallet not found' },
    ]);
  });

  it('compensates the debit when the credit cannot land', async () => {
    const sender = wallet.open(objectId(), 300);
    const transfer = transferOf(sender, objectId(), 120);
    await completed(transfer);
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -120],
      ['compensation', sender, 120],
    ]);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Recipient wallet not found' },
    ]);
    expect(wallet.balances.get(sender)).toBe(300);
  });

  it("ends Failed with the platform's reason when transaction.failed comes first", async () => {
    const transactionId = objectId();
    const handle = await start({ signal: 'failed', event: { transactionId, type: 'Transfer', reason: 'Card declined' } });
    expect(await handle.result()).toMatchObject({ status: 'Failed', legs: [] });
    expect(announcedFor(transactionId)).toEqual([{ transactionId, status: 'Failed', reason: 'Card declined' }]);
  });

  it('stops a transfer that transaction.failed reaches mid-way, reverses the debit and announces only Failed', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 500), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 200);
    const debit = wallet.hold(transfer.transactionId, 'debit');
    // A held local activity keeps its workflow task open; a signal is seen at the task's heartbeat.
    const handle = await start({ signal: 'completed', event: transfer }, '2s');
    await debit.reached;
    await handle.signal(transactionFailedSignal, { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Fraud check failed' });
    await eventually('the failure to reach the workflow', async () =>
      (await handle.query(transactionStateQuery)).failedEvent ? true : undefined,
    );
    debit.release();
    await handle.result();
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -200],
      ['reversal', sender, 200],
    ]);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Fraud check failed' },
    ]);
  });

  it('announces Failed for a rejected transaction.completed', async () => {
    const transactionId = objectId();
    const handle = await client.workflow.signalWithStart('walletTransaction', {
      workflowId: transactionWorkflowId(transactionId),
      taskQueue,
      args: [{ transactionId }],
      signal: transactionRejectedSignal,
      signalArgs: [{ transactionId, reason: 'Rejected by the wallet: amount: must be at least 1' }],
    });
    await handle.result();
    expect(announcedFor(transactionId)).toEqual([
      { transactionId, status: 'Failed', reason: 'Rejected by the wallet: amount: must be at least 1' },
    ]);
  });

  describe('on a transaction its record holds as final', () => {
    it('announces, once, an outcome recorded by an execution that died before announcing it', async () => {
      const user = wallet.open(objectId());
      const transactionId = objectId();
      // What the dead execution left: its leg applied, its outcome recorded, nothing announced.
      await wallet.activities.applyLeg({ transactionId, transactionType: 'TopUp', leg: 'credit', userId: user, amount: 5 });
      wallet.records.set(transactionId, { status: 'Completed' });
      const state = await completed({ transactionId, type: 'TopUp', userId: user, amount: 5 });
      expect(state).toMatchObject({ recorded: 'Completed', step: 'closed: the transaction record is already Completed' });
      expect(announcedFor(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);
      expect(wallet.balances.get(user)).toBe(5);
    });

    it('closes at its first step, applying nothing and announcing nothing new', async () => {
      const user = wallet.open(objectId());
      const transactionId = objectId();
      await wallet.activities.publishFinalization({ transactionId, status: 'Completed' }, []);
      const state = await completed({ transactionId, type: 'TopUp', userId: user, amount: 5 });
      expect(state).toMatchObject({ recorded: 'Completed', step: 'closed: the transaction record is already Completed', legs: [] });
      expect(announcedFor(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);
      expect(wallet.balances.get(user)).toBe(0);
    });

    it('rolls a Completed one back from the ledger on transaction.failed', async () => {
      const [sender, recipient] = [wallet.open(objectId(), 100), wallet.open(objectId())];
      const transfer = transferOf(sender, recipient, 40);
      await completed(transfer);
      const rerun = await client.workflow.start<typeof walletTransaction>('walletTransaction', {
        // Another id stands for the execution that starts once retention deleted the first.
        workflowId: `${transactionWorkflowId(transfer.transactionId)}-after-retention`,
        taskQueue,
        args: [{ transactionId: transfer.transactionId }],
      });
      await rerun.signal(transactionFailedSignal, { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' });
      expect(await rerun.result()).toMatchObject({ recorded: 'Completed', status: 'Failed' });
      expect(wallet.legsOf(transfer.transactionId).map(([leg, user]) => [leg, user])).toEqual([
        ['debit', sender],
        ['credit', recipient],
        ['reversal', recipient],
        ['reversal', sender],
      ]);
      expect(announcedFor(transfer.transactionId).map((a) => a.status)).toEqual(['Completed', 'Failed']);
    });
  });
});

describe('the reversal workflow', () => {
  const wallet = new InMemoryWallet();
  const specs = new WorkflowSpecs(wallet);
  let client: Client;
  let taskQueue: string;

  beforeAll(async () => {
    ({ client, taskQueue } = await specs.start());
  });
  afterAll(() => specs.stop());

  /** A transfer already applied and announced Completed, as its closed execution left it. */
  async function settledTransfer(amount: number) {
    const [sender, recipient] = [wallet.open(objectId(), amount), wallet.open(objectId())];
    const transactionId = objectId();
    await wallet.activities.applyLeg({ transactionId, transactionType: 'Transfer', leg: 'debit', userId: sender, amount: -amount });
    await wallet.activities.applyLeg({ transactionId, transactionType: 'Transfer', leg: 'credit', userId: recipient, amount });
    await wallet.activities.publishFinalization({ transactionId, status: 'Completed' }, []);
    return { transactionId, sender, recipient };
  }

  function reverse(transactionId: string): Promise<WorkflowHandle<typeof walletReversal>> {
    return client.workflow.start<typeof walletReversal>('walletReversal', {
      workflowId: transactionReversalWorkflowId(transactionId),
      taskQueue,
      args: [{ transactionId, type: 'Transfer', reason: 'Chargeback' }],
    });
  }

  it('reverses the credit before the debit and announces Failed', async () => {
    const { transactionId, sender, recipient } = await settledTransfer(80);
    const state: TransactionState = await (await reverse(transactionId)).result();
    expect(state.legs.map((leg) => [leg.leg, leg.userId])).toEqual([
      ['reversal', recipient],
      ['reversal', sender],
    ]);
    expect(wallet.announced.filter((a) => a.transactionId === transactionId).map((a) => a.status)).toEqual(['Completed', 'Failed']);
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([80, 0]);
  });

  it('waits for an operator when the recipient spent the money, and finishes on operatorRetry', async () => {
    const { transactionId, sender, recipient } = await settledTransfer(60);
    wallet.balances.set(recipient, 10); // spent elsewhere
    const handle = await reverse(transactionId);
    const stuck = await eventually('the reversal to ask for an operator', async () => {
      const state = await handle.query(transactionStateQuery);
      return state.status === 'NeedsOperator' ? state : undefined;
    });
    expect(stuck.attention).toMatch(/reversal of a settled leg refused \(InsufficientBalance\)/);
    expect(wallet.balances.get(sender)).toBe(0);
    wallet.balances.set(recipient, 60);
    await handle.signal(operatorRetrySignal);
    expect(await handle.result()).toMatchObject({ status: 'Failed' });
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([60, 0]);
  });

  it('announces the Failed a reversal recorded before its process died, reversing nothing again', async () => {
    const { transactionId, sender, recipient } = await settledTransfer(25);
    await (await reverse(transactionId)).result();
    // The same reversal run again, as after a crash between recording its outcome and announcing it.
    wallet.announced.splice(
      wallet.announced.findIndex((a) => a.transactionId === transactionId && a.status === 'Failed'),
      1,
    );
    await client.workflow.execute<typeof walletReversal>('walletReversal', {
      workflowId: `${transactionReversalWorkflowId(transactionId)}-rerun`,
      taskQueue,
      args: [{ transactionId, type: 'Transfer', reason: 'Chargeback' }],
    });
    expect(wallet.announced.filter((a) => a.transactionId === transactionId).map((a) => a.status)).toEqual(['Completed', 'Failed']);
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([25, 0]);
  });

  it('reverses nothing for a transaction its record already holds as Failed', async () => {
    const { transactionId } = await settledTransfer(30);
    await wallet.activities.publishFinalization({ transactionId, status: 'Failed', reason: 'Chargeback' }, []);
    expect(await (await reverse(transactionId)).result()).toMatchObject({
      step: 'closed: the transaction record is already Failed',
      legs: [],
    });
  });
});
