import { Types } from 'mongoose';
import { EXCHANGES, ROUTING_KEYS } from '../../src/messaging/topology';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { createLogger } from '../../src/logger';
import { ensureLedgerCheckSchedule, RECONCILIATION_SCHEDULE_ID, reconciliationSchedule } from '../../src/temporal/ledger-check-schedules';
import { listDeadLetters, replayDeadLetters } from '../../src/ops/dead-letters';
import { listStuck } from '../../src/ops/stuck';
import { reconcileNow } from '../../src/ops/reconcile';
import { resetTransaction } from '../../src/ops/reset';
import { retryTransaction } from '../../src/ops/retry';
import { showTransaction } from '../../src/ops/show';
import { FinalTransactionError, type OperationsContext } from '../../src/ops/operations-context';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

describe('operations', () => {
  let wallet: WalletHarness;
  let closeOperator: () => Promise<void>;
  let ctx: OperationsContext;

  beforeAll(async () => {
    wallet = await WalletHarness.start('operations', { env: { RECONCILIATION_INTERVAL_MINUTES: '60' } });
    // The hourly run must not repair what a spec left behind on purpose.
    await wallet.temporal.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).pause('paused by the operations specs');
    ({ ctx, close: closeOperator } = await wallet.operatorContext());
  });
  afterAll(async () => {
    await closeOperator();
    await wallet.stop();
  });

  // The announcement leaves from inside the workflow task; the execution closes when it completes.
  const completedExecution = (transactionId: string) =>
    eventually('the execution to complete', async () => {
      const report = await showTransaction(ctx, transactionId);
      return report.workflow?.status === 'COMPLETED' ? report : undefined;
    });

  it('shows a transaction: its execution, search attributes, memo, legs and ledger entries', async () => {
    const sender = await wallet.fundedUser(500);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId } = await wallet.transfer(sender, recipient, 125);
    const report = await completedExecution(transactionId);
    expect(report.workflow).toMatchObject({
      status: 'COMPLETED',
      searchAttributes: {
        WalletTransactionId: transactionId,
        WalletTransactionType: 'Transfer',
        WalletStatus: 'Completed',
        WalletUserIds: [sender, recipient],
      },
      memo: { outcome: { status: 'Completed' } },
    });
    expect(report.workflow?.state.step).toBe('closed');
    expect(report.reversal).toBeNull();
    expect(report.ledgerEntries.map((e) => [e.leg, e.userId, e.amount])).toEqual([
      ['debit', sender, -125],
      ['credit', recipient, 125],
    ]);
  });

  it('lists a transaction waiting for an operator as stuck, and a retry signal lets it finish', async () => {
    const sender = await wallet.fundedUser(300);
    const [recipient, third] = await wallet.signedUp(2);
    const { transactionId } = await wallet.transfer(sender, recipient, 300);
    await wallet.transfer(recipient, third, 300);
    wallet.platform.failed(transactionId, 'Transfer', 'Chargeback');
    await eventually('the execution to be listed as stuck', async () =>
      (await listStuck(ctx, 60_000)).some((s) => s.workflowId.endsWith(transactionId) && s.walletStatus === 'NeedsOperator')
        ? true
        : undefined,
    );
    await wallet.topUp(recipient, 300);
    await retryTransaction(ctx, transactionId);
    await wallet.platform.finalizationsCount(transactionId, 2);
    expect((await showTransaction(ctx, transactionId)).workflow?.state.status).toBe('Failed');
  });

  it('refuses to reset a transaction its record holds as final, unless forced', async () => {
    const sender = await wallet.fundedUser(400);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId } = await wallet.transfer(sender, recipient, 100);
    await completedExecution(transactionId);
    await expect(resetTransaction(ctx, transactionId, 'operations spec')).rejects.toThrow(
      new FinalTransactionError(
        `transaction ${transactionId} is final (Completed): a reset reruns an execution that finds it decided and announced, so no ` +
          'money moves and nothing is announced; pass --force to reset it anyway',
      ),
    );
  });

  it('resets a final transaction when forced: the new run ends at the record, applying no leg twice and announcing nothing', async () => {
    const sender = await wallet.fundedUser(400);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId } = await wallet.transfer(sender, recipient, 100);
    // Its only workflow task may still be open when the finalization arrives: reset once it completed.
    const { workflow: firstRun } = await completedExecution(transactionId);
    const newRun = await resetTransaction(ctx, transactionId, 'operations spec', { force: true });
    expect(newRun).toMatch(/\S/);
    expect(newRun).not.toBe(firstRun?.runId);
    const report = await eventually('the new run to complete', async () => {
      const shown = await showTransaction(ctx, transactionId);
      return shown.workflow?.runId === newRun && shown.workflow.status === 'COMPLETED' ? shown : undefined;
    });
    expect(report.workflow?.state).toMatchObject({ recorded: 'Completed', step: 'closed', legs: [] });
    expect(report.record).toMatchObject({ status: 'Completed', outcomes: [{ status: 'Completed' }] });
    expect(await wallet.entriesOfTransaction(transactionId)).toHaveLength(2);
    expect([await wallet.balanceOf(sender), await wallet.balanceOf(recipient)]).toEqual([300, 100]);
    expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
  });

  it('refuses to retry a transaction its record holds as Failed, unless forced', async () => {
    const sender = await wallet.fundedUser(5);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId } = await wallet.transfer(sender, recipient, 6);
    await completedExecution(transactionId);
    await expect(retryTransaction(ctx, transactionId)).rejects.toThrow(FinalTransactionError);
    await expect(retryTransaction(ctx, transactionId, { force: true })).rejects.toThrow(/has no running execution to retry/);
  });

  it('reports a transfer whose execution was terminated half-way as stalled once past the bound, and a reset finishes it once', async () => {
    const sender = await wallet.fundedUser(80);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId, repair } = await wallet.transferStuckOnCredit(sender, recipient, 30);
    await wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).terminate('operations spec: an operator gave up on it');
    await eventually('the terminated execution to be listed as stuck', async () =>
      (await listStuck(ctx, 60_000)).some((s) => s.workflowId.endsWith(transactionId) && s.executionStatus === 'TERMINATED')
        ? true
        : undefined,
    );
    await repair();
    expect(await reconcileNow(ctx)).toMatchObject({ ok: true, stalled: [], inFlight: -30 });

    // An hour on, nothing has moved: the reconciliation no longer excuses it.
    const anHourAgo = new Date(Date.now() - 61 * 60 * 1000);
    await wallet.service.stores.connection
      .collection('transaction_records')
      .updateOne({ _id: transactionId as never }, { $set: { openedAt: anHourAgo } });
    const stalled = await reconcileNow(ctx);
    expect(stalled).toMatchObject({ ok: false, unbalanced: [], inFlight: -30 });
    expect(stalled.stalled.map((transaction) => transaction.transactionId)).toEqual([transactionId]);

    await resetTransaction(ctx, transactionId, 'operations spec: the wallet document was repaired');
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
    expect((await wallet.entriesOfTransaction(transactionId)).map((e) => [e.leg, e.amount])).toEqual([
      ['debit', -30],
      ['credit', 30],
    ]);
    expect(await reconcileNow(ctx)).toMatchObject({ ok: true, stalled: [], inFlight: 0 });
  });

  it('moves a reconciliation schedule left on another task queue to the queue the service polls, keeping it paused', async () => {
    const schedule = wallet.temporal.schedule.getHandle(RECONCILIATION_SCHEDULE_ID);
    await schedule.update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: '5 minutes' }] },
      action: { ...previous.action, taskQueue: 'a-queue-nobody-polls' },
      state: { paused: true, note: 'paused by an operator' },
    }));
    const queue = wallet.service.config.temporal.taskQueue;
    await ensureLedgerCheckSchedule(wallet.temporal, reconciliationSchedule(60), queue, createLogger('silent'));
    const moved = await schedule.describe();
    expect(moved.action.taskQueue).toBe(queue);
    expect(moved.spec.intervals).toMatchObject([{ every: 3_600_000 }]);
    expect(moved.state).toMatchObject({ paused: true, note: 'paused by an operator' });
    await schedule.unpause();
  });

  it('lists dead letters with their reasons and origin, and replays them to their origin queue alone', async () => {
    await wallet.platform.drainDeadLetters();
    const malformed = { id: 'not-an-object-id' };
    wallet.platform.publishRaw(EXCHANGES.auth, ROUTING_KEYS.userSignup, malformed);
    await eventually('the dead letter', async () => ((await listDeadLetters(ctx, 10)).length === 1 ? true : undefined));
    // Another service's queue on the same key (the platform's email.signup.q): a replay is the wallet's own business.
    const { queue: otherService } = await ctx.channel!.assertQueue('', { exclusive: true });
    await ctx.channel!.bindQueue(otherService, EXCHANGES.auth, ROUTING_KEYS.userSignup);
    const [letter] = await listDeadLetters(ctx, 10);
    expect(letter).toMatchObject({
      queue: 'wallet.user.q',
      exchange: 'auth.events',
      routingKey: 'user.signup',
      reason: expect.stringMatching(/^id: /),
      body: JSON.stringify(malformed),
    });

    // Replayed while its cause is not fixed, it comes straight back, newly dead-lettered.
    expect(await replayDeadLetters(ctx, 5)).toMatchObject({ replayed: [letter], kept: [] });
    await eventually('the message to be dead-lettered again', async () => {
      const letters = await listDeadLetters(ctx, 10);
      return letters.length === 1 && letters[0].deadLetteredAt > letter.deadLetteredAt ? true : undefined;
    });
    expect(await ctx.channel!.checkQueue(otherService)).toMatchObject({ messageCount: 0 });
    await ctx.channel!.deleteQueue(otherService);
    await wallet.platform.drainDeadLetters();
  });

  it('replays the letters behind one it keeps: n counts the letters replayed', async () => {
    await wallet.platform.drainDeadLetters();
    const deadLetterOf = async (body: unknown, origin: { queue: string; exchange: string; routingKey: string }) => {
      ctx.channel!.publish('wallet.dlx', origin.queue, Buffer.from(JSON.stringify(body)), {
        persistent: true,
        headers: {
          'x-wallet-dead-letter-reason': 'refused by an earlier release',
          'x-wallet-original-queue': origin.queue,
          'x-wallet-original-exchange': origin.exchange,
          'x-wallet-original-routing-key': origin.routingKey,
        },
      });
      await ctx.channel!.waitForConfirms();
    };
    const [user] = await wallet.signedUp(1);
    const { transactionId } = await wallet.topUp(user, 5);
    const completed = { queue: 'wallet.update.q', exchange: EXCHANGES.transactions, routingKey: ROUTING_KEYS.transactionCompleted };
    await deadLetterOf({ transactionId, type: 'TopUp', userId: user, amount: 5 }, completed);
    const newUser = objectId();
    await deadLetterOf({ id: newUser }, { queue: 'wallet.user.q', exchange: EXCHANGES.auth, routingKey: ROUTING_KEYS.userSignup });

    const report = await replayDeadLetters(ctx, 1);
    expect(report.kept).toEqual([expect.objectContaining({ refusal: expect.stringContaining(`transaction ${transactionId} is final`) })]);
    expect(report.replayed).toEqual([expect.objectContaining({ body: JSON.stringify({ id: newUser }) })]);
    await eventually('the replayed sign-up to create the wallet', async () =>
      (await wallet.service.stores.ledger.wallets.exists({ userId: new Types.ObjectId(newUser) }).exec()) ? true : undefined,
    );
    expect(await listDeadLetters(ctx, 10)).toEqual([expect.objectContaining({ queue: 'wallet.update.q' })]);
    await wallet.platform.drainDeadLetters();
  });

  it('replays a dead letter whose cause was fixed, and the wallet then applies it', async () => {
    // A sign-up an earlier release refused, kept in the dead-letter queue with its origin.
    const userId = objectId();
    ctx.channel!.publish('wallet.dlx', 'wallet.user.q', Buffer.from(JSON.stringify({ id: userId })), {
      persistent: true,
      headers: {
        'x-wallet-dead-letter-reason': 'refused by an earlier release',
        'x-wallet-original-queue': 'wallet.user.q',
        'x-wallet-original-exchange': 'auth.events',
        'x-wallet-original-routing-key': 'user.signup',
      },
    });
    await ctx.channel!.waitForConfirms();
    expect(await replayDeadLetters(ctx, 5)).toEqual({
      replayed: [expect.objectContaining({ reason: 'refused by an earlier release' })],
      kept: [],
    });
    await eventually('the replayed sign-up to create the wallet', async () =>
      (await wallet.service.stores.ledger.wallets.exists({ userId: new Types.ObjectId(userId) }).exec()) ? true : undefined,
    );
    expect(await listDeadLetters(ctx, 10)).toEqual([]);
  });

  it('keeps a dead letter without its origin in the queue instead of replaying it nowhere', async () => {
    await wallet.platform.drainDeadLetters();
    const body = JSON.stringify({ id: objectId() });
    ctx.channel!.publish('wallet.dlx', '', Buffer.from(body), {
      persistent: true,
      headers: { 'x-wallet-dead-letter-reason': 'moved here by hand' },
    });
    await ctx.channel!.waitForConfirms();
    const report = await replayDeadLetters(ctx, 5);
    expect(report).toEqual({
      replayed: [],
      kept: [expect.objectContaining({ body, refusal: "it names no queue of the wallet's: there is nowhere to replay it" })],
    });
    expect(await listDeadLetters(ctx, 10)).toEqual([expect.objectContaining({ body, reason: 'moved here by hand' })]);
    await wallet.platform.drainDeadLetters();
  });

  it('keeps the dead letter of a transaction already announced Failed, unless forced, and a forced replay moves no money', async () => {
    await wallet.platform.drainDeadLetters();
    const [user] = await wallet.signedUp(1);
    const transactionId = objectId();
    wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, {
      transactionId,
      type: 'TopUp',
      userId: user,
      amount: 100_001,
    });
    expect(await wallet.platform.finalizationOf(transactionId)).toMatchObject({ status: 'Failed' });
    await eventually('the dead letter', async () => ((await listDeadLetters(ctx, 10)).length === 1 ? true : undefined));

    const kept = await replayDeadLetters(ctx, 5);
    expect(kept.replayed).toEqual([]);
    expect(kept.kept).toEqual([
      expect.objectContaining({
        refusal: `transaction ${transactionId} is final (Failed): the wallet would ignore it and no money would move; pass --force to publish it anyway`,
      }),
    ]);
    expect(await listDeadLetters(ctx, 10)).toHaveLength(1);

    expect(await replayDeadLetters(ctx, 5, { force: true })).toMatchObject({
      replayed: [{ routingKey: 'transaction.completed' }],
      kept: [],
    });
    await eventually('the replayed letter to be dead-lettered again', async () =>
      (await listDeadLetters(ctx, 10)).length === 1 ? true : undefined,
    );
    expect(await wallet.balanceOf(user)).toBe(0);
    expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
    await wallet.platform.drainDeadLetters();
  });
});
