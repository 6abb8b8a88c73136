import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  SEARCH_ATTRIBUTES,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionStateQuery,
  transactionWorkflowId,
} from '../../workflows/wallet-transaction/definitions';
import type { walletTransaction } from '../../workflows/wallet-transaction/workflow';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { temporalTestServerPath } from '../support/tools';
import { InMemoryWallet } from './support/in-memory-wallet';
import { transferOf, WorkflowSpecs } from './support/workflow-specs';

const HOUR_MS = 3_600_000;
const testServer = temporalTestServerPath();
if (!testServer) {
  console.warn('timer specs skipped: no time-skipping test server (scripts/stack.sh install needs java and mvn for it)');
}

// The transaction workflow's hour-long timers, run on Temporal's time-skipping test server: while a
// spec waits for a result or sleeps on the server, its clock jumps to the next timer. Every clock
// here (the workflow's, the stamps on the steps) is the server's.
(testServer ? describe : describe.skip)("the transaction workflow's timers", () => {
  let server: TestWorkflowEnvironment;
  const wallet = new InMemoryWallet(() => server.currentTimeMs());
  let specs: WorkflowSpecs;
  let client: Client;
  let taskQueue: string;

  beforeAll(async () => {
    server = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: testServer! } },
    });
    // The test server knows no search attributes until told, and fails a workflow task that sets one.
    await server.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(
        Object.values(SEARCH_ATTRIBUTES).map((key) => [key.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]]),
      ),
    });
    specs = new WorkflowSpecs(wallet, server);
    ({ client, taskQueue } = await specs.start());
  });
  afterAll(async () => {
    await specs?.stop();
    await server?.teardown();
  });

  const callsOf = (transactionId: string, activity: string) =>
    wallet.calls.filter((call) => call.transactionId === transactionId && call.activity === activity);

  function startRun(transactionId: string) {
    return client.workflow.start<typeof walletTransaction>('walletTransaction', {
      workflowId: transactionWorkflowId(transactionId),
      taskQueue,
      args: [{ transactionId }],
    });
  }

  it('gives up a run started without any event after an hour, having done nothing', async () => {
    const transactionId = objectId();
    const startedAt = await server.currentTimeMs();
    const state = await (await startRun(transactionId)).result();
    expect(state).toMatchObject({ status: 'Pending', step: 'closed without any transaction event' });
    expect((await server.currentTimeMs()) - startedAt).toBeGreaterThanOrEqual(HOUR_MS);
    expect(wallet.calls.filter((call) => call.transactionId === transactionId)).toEqual([]);
  });

  it('still takes the first event 59 minutes after the start', async () => {
    const user = wallet.open(objectId());
    const transactionId = objectId();
    const handle = await startRun(transactionId);
    await server.sleep('59 minutes');
    await handle.signal(transactionCompletedSignal, { transactionId, type: 'TopUp', userId: user, amount: 30 });
    expect(await handle.result()).toMatchObject({ status: 'Completed', step: 'closed' });
    expect(wallet.balances.get(user)).toBe(30);
  });

  it('moves money back only once the rollback fence it recorded has passed, however long the fence', async () => {
    wallet.rollbackFenceMs = 45 * 60_000;
    try {
      const [sender, recipient] = [wallet.open(objectId(), 100), wallet.open(objectId())];
      const transfer = transferOf(sender, recipient, 40);
      const first = await startRun(transfer.transactionId);
      await first.signal(transactionCompletedSignal, transfer);
      await first.result();
      const rerun = await startRun(transfer.transactionId);
      await rerun.signal(transactionFailedSignal, { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' });
      expect(await rerun.result()).toMatchObject({ status: 'Failed' });
      const fence = new Date(wallet.records.get(transfer.transactionId)!.rollback!.reverseAfter).getTime();
      const [decided] = callsOf(transfer.transactionId, 'recordDecision');
      const undos = callsOf(transfer.transactionId, 'undoLeg');
      expect(fence - decided.at).toBeGreaterThanOrEqual(45 * 60_000);
      expect(fence - decided.at).toBeLessThan(46 * 60_000);
      expect(undos).toHaveLength(2);
      for (const undo of undos) expect(undo.at).toBeGreaterThanOrEqual(fence);
      expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([100, 0]);
    } finally {
      wallet.rollbackFenceMs = 0;
    }
  });

  it('tries a step waiting for an operator again by itself every hour, and finishes once it can', async () => {
    const [sender, recipient] = [wallet.open(objectId(), 60), wallet.open(objectId())];
    const transfer = transferOf(sender, recipient, 60);
    const first = await startRun(transfer.transactionId);
    await first.signal(transactionCompletedSignal, transfer);
    await first.result();
    wallet.balances.set(recipient, 10); // spent elsewhere: the reversal of the credit is refused
    const rerun = await startRun(transfer.transactionId);
    await rerun.signal(transactionFailedSignal, { transactionId: transfer.transactionId, type: 'Transfer', reason: 'Chargeback' });
    await eventually('the rollback to ask for an operator', async () =>
      (await rerun.query(transactionStateQuery)).status === 'NeedsOperator' ? true : undefined,
    );
    await server.sleep('3 hours');
    const refused = callsOf(transfer.transactionId, 'undoLeg');
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < refused.length; i++) {
      expect(refused[i].at - refused[i - 1].at).toBeGreaterThanOrEqual(HOUR_MS);
      expect(refused[i].at - refused[i - 1].at).toBeLessThan(HOUR_MS + 60_000);
    }
    wallet.balances.set(recipient, 60);
    expect(await rerun.result()).toMatchObject({ status: 'Failed' });
    expect([wallet.balances.get(sender), wallet.balances.get(recipient)]).toEqual([60, 0]);
  });
});
