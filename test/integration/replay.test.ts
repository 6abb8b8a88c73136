import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Worker } from '@temporalio/worker';
import { operatorRetrySignal, transactionCompletedSignal, transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { objectId } from '../support/ids';
import { eventually } from '../support/eventually';
import { temporalCliPath } from '../support/tools';
import { WalletHarness } from '../support/wallet-harness';
import { bundleTracedWorkflowsForTests } from '../support/workflow-bundle';

// Determinism: histories recorded from every path of the transaction workflows must replay against
// the current workflow code. The committed ones (test/replay/histories) are what catch a change that
// breaks running executions: v1-* are the first release's, v2-* those of transactions decided once.
// A change to the workflows records the next set beside them (see "Changing a workflow safely" in
// the README); every set must replay.
// RECORD_REPLAY_HISTORIES=<tag> writes <tag>-<path>.json from the scenarios below.
const HISTORIES_DIR = path.join(__dirname, '../replay/histories');
const RECORD_TAG = process.env.RECORD_REPLAY_HISTORIES;
const workflowBundle = () => ({ codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! });

describe('workflow determinism', () => {
  let wallet: WalletHarness;
  const fresh: Array<{ name: string; history: unknown }> = [];

  beforeAll(async () => {
    wallet = await WalletHarness.start('replay');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  /** Waits for the execution of a transaction to close and keeps its history. */
  async function recorded(name: string, transactionId: string): Promise<void> {
    const handle = wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId));
    await eventually(`the execution of ${name}`, () => handle.describe());
    await handle.result();
    // Exported the way an operator would, with the Temporal CLI, in its canonical JSON.
    const json = execFileSync(
      temporalCliPath(),
      ['workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json', '--address', process.env.WALLET_TEST_TEMPORAL_ADDRESS!],
      { encoding: 'utf8' },
    );
    fresh.push({ name, history: JSON.parse(json) });
    if (RECORD_TAG) {
      mkdirSync(HISTORIES_DIR, { recursive: true });
      writeFileSync(path.join(HISTORIES_DIR, `${RECORD_TAG}-${name}.json`), json);
    }
  }

  it('records each path of the transaction workflow', async () => {
    const [alice, bob, carol] = await wallet.signedUp(3);

    const topUp = objectId();
    wallet.platform.topUp(topUp, alice, 1000);
    await recorded('top-up-completed', topUp);

    const transfer = await wallet.transfer(alice, bob, 300);
    await recorded('transfer-completed', transfer.transactionId);

    const overdrawn = await wallet.transfer(bob, carol, 301);
    await recorded('transfer-insufficient-balance', overdrawn.transactionId);

    const toStranger = await wallet.transfer(alice, objectId(), 10);
    await recorded('transfer-compensated', toStranger.transactionId);

    const failedFirst = objectId();
    wallet.platform.failed(failedFirst, 'Transfer', 'Declined');
    await wallet.platform.finalizationOf(failedFirst);
    wallet.platform.transfer(failedFirst, alice, bob, 5);
    await recorded('failed-before-completed', failedFirst);

    // A rollback after the execution closed is a new run of the same execution id.
    const reversed = await wallet.transfer(alice, carol, 100);
    await recorded('settled-before-failure', reversed.transactionId);
    wallet.platform.failed(reversed.transactionId, 'Transfer', 'Chargeback');
    await wallet.platform.finalizationsCount(reversed.transactionId, 2);
    await recorded('rollback-of-settled-transfer', reversed.transactionId);

    const spentFirst = await wallet.transfer(alice, carol, 200);
    await wallet.transfer(carol, bob, 200);
    wallet.platform.failed(spentFirst.transactionId, 'Transfer', 'Chargeback');
    await eventually('the rollback to wait for an operator', async () =>
      (await wallet.workflowState(spentFirst.transactionId)).status === 'NeedsOperator' ? true : undefined,
    );
    await wallet.topUp(carol, 200);
    await wallet.temporal.workflow.getHandle(transactionWorkflowId(spentFirst.transactionId)).signal(operatorRetrySignal);
    await wallet.platform.finalizationsCount(spentFirst.transactionId, 2);
    await recorded('rollback-after-operator-retry', spentFirst.transactionId);

    const rejected = objectId();
    wallet.platform.completed({ transactionId: rejected, type: 'TopUp', userId: alice, amount: 0 });
    await recorded('rejected-completed', rejected);

    // Executions started for transactions whose earlier executions retention deleted.
    const settled = await wallet.transfer(alice, bob, 10);
    const rolledBackLater = await wallet.transfer(alice, bob, 20);
    await Promise.all([wallet.forgetExecutions(settled.transactionId), wallet.forgetExecutions(rolledBackLater.transactionId)]);
    await wallet.temporal.workflow.signalWithStart('walletTransaction', {
      workflowId: transactionWorkflowId(settled.transactionId),
      taskQueue: wallet.service.config.temporal.taskQueue,
      args: [{ transactionId: settled.transactionId }],
      signal: transactionCompletedSignal,
      signalArgs: [{ transactionId: settled.transactionId, type: 'Transfer', fromUserId: alice, toUserId: bob, amount: 10 }],
    });
    await recorded('completed-after-record-final', settled.transactionId);
    wallet.platform.failed(rolledBackLater.transactionId, 'Transfer', 'Chargeback');
    await recorded('failed-after-record-completed', rolledBackLater.transactionId);

    expect(fresh.map((h) => h.name)).toHaveLength(11);
  }, 180_000);

  it('replays the histories just recorded', async () => {
    for (const { name, history } of fresh) {
      await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history as never, name)).resolves.toBeUndefined();
    }
  });

  it('replays every committed history against the current workflow code', async () => {
    const files = existsSync(HISTORIES_DIR) ? readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')) : [];
    // v1: the first release's (workflows/legacy/ replays them); v2: transactions decided once.
    expect(files.filter((f) => f.startsWith('v1-'))).toHaveLength(11);
    expect(files.filter((f) => f.startsWith('v2-'))).toHaveLength(11);
    for (const file of files) {
      const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
      await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, file)).resolves.toBeUndefined();
    }
  });

  it('replays every committed history on the traced bundle too: tracing on or off, executions replay', async () => {
    const traced = { codePath: await bundleTracedWorkflowsForTests() };
    const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(22);
    for (const file of files) {
      const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
      await expect(Worker.runReplayHistory({ workflowBundle: traced }, history, file)).resolves.toBeUndefined();
    }
  }, 120_000);
});
