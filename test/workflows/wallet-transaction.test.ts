import type { Client } from '@temporalio/client';
import type { TransactionCompleted, TransactionFailed, TransactionRejected } from '../../src/domain';
import {
  operatorRetrySignal,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  transactionStateQuery,
  transactionWorkflowId,
  type TransactionState,
} from '../../workflows/wallet-transaction/definitions';
import { OPERATOR_WAIT_HISTORY_LIMIT, type walletTransaction } from '../../workflows/wallet-transaction/workflow';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { InMemoryWallet } from './support/in-memory-wallet';
import { transferOf, WorkflowSpecs } from './support/workflow-specs';

// The transaction workflow's paths on the test run's Temporal server, with in-memory steps: no
// database, no broker. The integration specs run the same paths on the real servers; the model
// (test/unit/transaction-decided-once) interleaves them at random.
describe('the transaction workflow', () => {
  const wallet = new InMemoryWallet();
  const specs = new WorkflowSpecs(wallet);
  let client: Client;
  let taskQueue: string;

  beforeAll(async () => {
    ({ client, taskQueue } = await specs.start());
  });
  afterAll(() => specs.stop());

  type FirstEvent =
    | { signal: 'completed'; event: TransactionCompleted }
    | { signal: 'failed'; event: TransactionFailed }
    | { signal: 'rejected'; event: TransactionRejected };
  const SIGNALS = { completed: transactionCompletedSignal, failed: transactionFailedSignal, rejected: transactionRejectedSignal };

  /** Starts a run of the transaction, under its own id or another (a second run of the same transaction). */
  function start(first: FirstEvent, { workflowTaskTimeout = '10s', workflowId = transactionWorkflowId(first.event.transactionId) } = {}) {
    return client.workflow.signalWithStart<typeof walletTransaction, [typeof first.event]>('walletTransaction', {
      workflowId,
      taskQueue,
      args: [{ transactionId: first.event.transactionId }],
      signal: SIGNALS[first.signal] as never,
      signalArgs: [first.event],
      workflowTaskTimeout,
    });
  }
  const completed = (event: TransactionCompleted, options?: Parameters<typeof start>[1]) =>
    start({ signal: 'completed', event }, options).then((handle) => handle.result());
  const announcedFor = (transactionId: string) => wallet.announced.filter((a) => a.transactionId === transactionId);
  /** The order of a transaction's steps, as the fake saw them called. */
  const stepsOf = (transactionId: string) =>
    wallet.calls
      .filter((call) => call.transactionId === transactionId)
      .map((call) => `${call.activity}${call.detail ? ` ${call.detail}` : ''}`);

  it('credits a top-up and announces it Completed, which it records as it announces', async () => {
    const user = wallet.open(objectId());
    const transactionId = objectId();
    const state = await completed({ transactionId, type: 'TopUp', userId: user, amount: 700 });
    expect(state).toMatchObject({ status: 'Completed', step: 'closed', legs: [{ leg: 'credit', userId: user, amount: 700 }] });
    expect(wallet.balances.get(user)).toBe(700);
    // One step, processed straight through: its open, its leg and its announcement, in that order.
    expect(stepsOf(transactionId)).toEqual(['processStraightThrough', 'openRecord', 'applyForwardLeg credit', 'announceOutcome first']);
    expect(announcedFor(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);
    expect(wallet.records.get(transactionId)?.first).toEqual({ status: 'Completed' });
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

  it('refuses a transfer over the balance on its first attempt: decided Failed, the debit voided, nothing applied', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 10), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 11);
    await completed(transfer);
    expect(stepsOf(transfer.transactionId)).toEqual([
      // Straight-through processing stops at the refusal; the run follows from there.
      'processStraightThrough',
      'openRecord',
      'applyForwardLeg debit',
      'recordDecision first',
      // Legs land in order: once the debit is void, the credit never can.
      'voidLeg debit',
      'announceOutcome first',
    ]);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Insufficient balance' },
    ]);
    expect(wallet.legsOf(transfer.transactionId)).toEqual([]);
  });

  it('refuses a transfer from a user without a wallet', async () => {
    const transfer = transferOf(objectId(), wallet.open(objectId()), 5);
    await completed(transfer);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Sender wallet not found' },
    ]);
  });

  it('records the Failed before it compensates the debit of a credit that cannot land, and voids the credit', async () => {
    const sender = wallet.open(objectId(), 300);
    const transfer = transferOf(sender, objectId(), 120);
    await completed(transfer);
    expect(stepsOf(transfer.transactionId)).toEqual([
      'processStraightThrough',
      'openRecord',
      'applyForwardLeg debit',
      'applyForwardLeg credit',
      'recordDecision first',
      'voidLeg credit',
      'undoLeg debit',
      'announceOutcome first',
    ]);
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -120],
      ['compensation', sender, 120],
    ]);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Recipient wallet not found' },
    ]);
    expect(wallet.balances.get(sender)).toBe(300);
  });

  it("ends Failed with the platform's reason when transaction.failed comes first, and a later transaction.completed moves nothing", async () => {
    const [sender, recipient] = [wallet.open(objectId(), 100), wallet.open(objectId())];
    const transactionId = objectId();
    const handle = await start({ signal: 'failed', event: { transactionId, type: 'Transfer', reason: 'Card declined' } });
    expect(await handle.result()).toMatchObject({ status: 'Failed', legs: [] });
    const late = await start({
      signal: 'completed',
      event: { transactionId, type: 'Transfer', fromUserId: sender, toUserId: recipient, amount: 5 },
    });
    expect(await late.result()).toMatchObject({ recorded: 'Failed', legs: [] });
    expect(wallet.legsOf(transactionId)).toEqual([]);
    expect(announcedFor(transactionId).map((a) => [a.status, a.reason])).toEqual([
      ['Failed', 'Card declined'],
      ['Failed', 'Card declined'],
    ]);
  });

  it('rolls back a transfer that transaction.failed reaches while it is processed straight through: Completed, then both legs reversed and Failed', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 500), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 200);
    const debit = wallet.hold(transfer.transactionId, 'applyForwardLeg:debit');
    // A held local activity keeps its workflow task open; a signal is seen at the task's heartbeat.
    const handle = await start({ signal: 'completed', event: transfer }, { workflowTaskTimeout: '2s' });
    await debit.reached;
    await handle.signal(transactionFailedSignal, { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Fraud check failed' });
    await eventually('the failure to reach the workflow', async () =>
      (await handle.query(transactionStateQuery)).failedEvent ? true : undefined,
    );
    debit.release();
    await handle.result();
    // The step was under way: for this run the event came after it, as if it had come a moment later.
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -200],
      ['credit', recipient, 200],
      ['reversal', recipient, -200],
      ['reversal', sender, 200],
    ]);
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([500, 0]);
    expect(announcedFor(transfer.transactionId)).toEqual([
      { transactionId: transfer.transactionId, status: 'Completed' },
      { transactionId: transfer.transactionId, status: 'Failed', reason: 'Fraud check failed' },
    ]);
  });

  it('announces Failed for a rejected transaction.completed that is its first word', async () => {
    const transactionId = objectId();
    const handle = await start({
      signal: 'rejected',
      event: { transactionId, reason: 'Rejected by the wallet: amount: must be at least 1' },
    });
    await handle.result();
    expect(announcedFor(transactionId)).toEqual([
      { transactionId, status: 'Failed', reason: 'Rejected by the wallet: amount: must be at least 1' },
    ]);
    expect(wallet.records.get(transactionId)).toMatchObject({
      terms: null,
      openingReason: 'Rejected by the wallet: amount: must be at least 1',
    });
  });

  it('finishes, from its recorded terms, a transfer that a run holding only a damaged copy reaches', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 90), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 40);
    // An earlier run opened the record and applied the debit, then was terminated.
    await wallet.activities.openRecord({ transactionId: transfer.transactionId, type: 'Transfer', terms: transfer, reason: null });
    await wallet.activities.applyForwardLeg({
      transactionId: transfer.transactionId,
      transactionType: 'Transfer',
      leg: 'debit',
      userId: sender,
      amount: -40,
      counterpartyUserId: recipient,
    });
    const handle = await start({
      signal: 'rejected',
      event: { transactionId: transfer.transactionId, reason: 'Rejected by the wallet: amount: must be a number' },
    });
    expect(await handle.result()).toMatchObject({ status: 'Completed' });
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -40],
      ['credit', recipient, 40],
    ]);
    expect(announcedFor(transfer.transactionId)).toEqual([{ transactionId: transfer.transactionId, status: 'Completed' }]);
  });

  describe('on a transaction its record has decided', () => {
    it('follows a Failed that a dead run recorded before compensating: no credit lands, the debit is compensated', async () => {
      const sender = wallet.open(objectId(), 100);
      const recipient = objectId();
      const transfer = transferOf(sender, recipient, 50);
      // The dead run: the debit applied, the credit refused (no wallet), Failed recorded, then the crash.
      await wallet.activities.openRecord({ transactionId: transfer.transactionId, type: 'Transfer', terms: transfer, reason: null });
      const debit = {
        transactionId: transfer.transactionId,
        transactionType: 'Transfer',
        userId: sender,
        counterpartyUserId: recipient,
      } as const;
      await wallet.activities.applyForwardLeg({ ...debit, leg: 'debit', amount: -50 });
      wallet.decide(transfer.transactionId, 'first', { status: 'Failed', reason: 'Recipient wallet not found', undo: 'compensation' });
      // Meanwhile the recipient signed up.
      wallet.open(recipient);
      expect(await completed(transfer)).toMatchObject({ status: 'Failed', recorded: 'Failed' });
      expect(wallet.legsOf(transfer.transactionId)).toEqual([
        ['debit', sender, -50],
        ['compensation', sender, 50],
      ]);
      expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([100, 0]);
      expect(announcedFor(transfer.transactionId)).toEqual([
        { transactionId: transfer.transactionId, status: 'Failed', reason: 'Recipient wallet not found' },
      ]);
    });

    it('announces a Completed that a dead run recorded, and applies nothing again', async () => {
      const user = wallet.open(objectId());
      const topUp: TransactionCompleted = { transactionId: objectId(), type: 'TopUp', userId: user, amount: 5 };
      await wallet.activities.openRecord({ transactionId: topUp.transactionId, type: 'TopUp', terms: topUp, reason: null });
      await wallet.activities.applyForwardLeg({
        transactionId: topUp.transactionId,
        transactionType: 'TopUp',
        leg: 'credit',
        userId: user,
        amount: 5,
      });
      wallet.decide(topUp.transactionId, 'first', { status: 'Completed' });
      expect(await completed(topUp)).toMatchObject({ recorded: 'Completed', status: 'Completed' });
      expect(wallet.balances.get(user)).toBe(5);
      // Straight-through processing stops at the decision it finds; the run announces it.
      expect(stepsOf(topUp.transactionId)).toEqual([
        'openRecord',
        'applyForwardLeg credit',
        'processStraightThrough',
        'openRecord',
        'announceOutcome first',
      ]);
    });

    it('rolls a Completed back in a new run on transaction.failed: after the rollback fence, credit then debit reversed', async () => {
      wallet.rollbackFenceMs = 1_500;
      const [sender, recipient] = [wallet.open(objectId(), 100), wallet.open(objectId())];
      const transfer = transferOf(sender, recipient, 40);
      await completed(transfer);
      // The first run closed; the event starts a new run of the same execution id.
      const rerun = await start({
        signal: 'failed',
        event: { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' },
      });
      const decidedAt = await eventually(
        'the rollback to be decided',
        async () => wallet.records.get(transfer.transactionId)?.rollback?.reverseAfter,
      );
      expect(await rerun.result()).toMatchObject({ recorded: 'Failed', status: 'Failed' });
      wallet.rollbackFenceMs = 0;
      expect(wallet.legsOf(transfer.transactionId).map(([leg, user]) => [leg, user])).toEqual([
        ['debit', sender],
        ['credit', recipient],
        ['reversal', recipient],
        ['reversal', sender],
      ]);
      const firstUndo = wallet.calls.find((call) => call.transactionId === transfer.transactionId && call.activity === 'undoLeg');
      expect(firstUndo?.at).toBeGreaterThanOrEqual(new Date(decidedAt).getTime());
      expect(announcedFor(transfer.transactionId).map((a) => a.status)).toEqual(['Completed', 'Failed']);
    });

    it('waits for an operator when the recipient spent the credit, reverses nothing before, and finishes on operatorRetry', async () => {
      const [sender, recipient] = [wallet.open(objectId(), 60), wallet.open(objectId())];
      const transfer = transferOf(sender, recipient, 60);
      await completed(transfer);
      wallet.balances.set(recipient, 10); // spent elsewhere
      const handle = await start({
        signal: 'failed',
        event: { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' },
      });
      const stuck: TransactionState = await eventually('the rollback to ask for an operator', async () => {
        const state = await handle.query(transactionStateQuery);
        return state.status === 'NeedsOperator' ? state : undefined;
      });
      expect(stuck.attention).toMatch(/reversal of the credit of user .* refused \(InsufficientBalance\)/);
      expect(wallet.balances.get(sender)).toBe(0);
      wallet.balances.set(recipient, 60);
      await handle.signal(operatorRetrySignal);
      expect(await handle.result()).toMatchObject({ status: 'Failed' });
      expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([60, 0]);
    });
  });

  it('continues a long wait for an operator as new, well before the history limit, and the next run waits for the same step', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 60), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 60);
    await completed(transfer);
    wallet.balances.set(recipient, 10); // spent elsewhere: the reversal of the credit is refused until an operator acts
    const handle = await start({
      signal: 'failed',
      event: { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' },
    });
    const firstRunId = (await handle.describe()).runId;
    const undoTries = () => wallet.callsOf(transfer.transactionId, 'undoLeg');
    await eventually('the first wait for an operator', async () =>
      (await handle.query(transactionStateQuery)).status === 'NeedsOperator' ? true : undefined,
    );
    // Each operatorRetry is one more try, refused again: about ten history events a round.
    let rounds = 0;
    for (;;) {
      const { runId, historyLength } = await client.workflow.getHandle(handle.workflowId).describe();
      if (runId !== firstRunId) break;
      expect(historyLength).toBeLessThan(OPERATOR_WAIT_HISTORY_LIMIT + 50);
      const tries = undoTries();
      await handle.signal(operatorRetrySignal);
      await eventually('the retry to be tried', () => (undoTries() > tries ? true : undefined), 10_000, 5);
      await eventually(
        'the wait again',
        async () => {
          const state = await client.workflow.getHandle(handle.workflowId).query(transactionStateQuery);
          return state.status === 'NeedsOperator' ? true : undefined;
        },
        10_000,
        5,
      );
      rounds++;
    }
    expect(rounds).toBeGreaterThan(50);
    const next = client.workflow.getHandle(handle.workflowId);
    const waiting = await eventually('the next run to wait for the same step', async () => {
      const state = await next.query(transactionStateQuery);
      return state.status === 'NeedsOperator' ? state : undefined;
    });
    expect(waiting.attention).toMatch(/reversal of the credit of user .* refused \(InsufficientBalance\)/);
    expect(waiting.failedEvent).toEqual({ transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' });

    wallet.balances.set(recipient, 60);
    await next.signal(operatorRetrySignal);
    expect(await next.result()).toMatchObject({ status: 'Failed' });
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([60, 0]);
    expect(announcedFor(transfer.transactionId).map((a) => a.status)).toEqual(['Completed', 'Failed']);
  });

  it('two runs at once: one held before its credit, the other rolls back on transaction.failed; the held credit finds itself void', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 100), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 50);
    const credit = wallet.hold(transfer.transactionId, 'applyForwardLeg:credit');
    const first = await start({ signal: 'completed', event: transfer }, { workflowTaskTimeout: '2s' });
    await credit.reached;
    // Another run of the same transaction (as after a terminate, or a task taken over by another replica).
    const second = await start(
      { signal: 'failed', event: { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Declined' } },
      { workflowId: `${transactionWorkflowId(transfer.transactionId)}-second-run` },
    );
    expect(await second.result()).toMatchObject({ status: 'Failed' });
    credit.release();
    expect(await first.result()).toMatchObject({ status: 'Failed', recorded: 'Failed' });
    expect(wallet.legsOf(transfer.transactionId)).toEqual([
      ['debit', sender, -50],
      ['reversal', sender, 50],
    ]);
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([100, 0]);
    expect(announcedFor(transfer.transactionId).map((a) => a.status)).toEqual(['Failed', 'Failed']);
  });
});
