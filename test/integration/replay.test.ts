import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
// breaks executions started by a release: v0-* the first release as it shipped, v1-* the same
// workflow once it announced outcomes found recorded, v2-* transactions decided once, v3-* processed
// straight through, v4-* without a timer for the event they start with. A change to the workflows
// records the next set beside them (docs/design.md: "Changing a workflow safely"); a set once
// committed is never rewritten: released-histories.sha256 holds each file's digest.
// RECORD_REPLAY_HISTORIES=<tag> writes <tag>-<path>.json from the scenarios below.
const HISTORIES_DIR = path.join(__dirname, '../replay/histories');
const RELEASED_DIGESTS = path.join(__dirname, '../replay/released-histories.sha256');
const RECORD_TAG = process.env.RECORD_REPLAY_HISTORIES;
const workflowBundle = () => ({ codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! });

/**
 * Released histories the current code cannot replay, and why. A query or a reset of such a closed
 * execution fails; none can be open on that path (it ends in the workflow task that starts it).
 */
const UNREPLAYABLE: Record<string, string> = {
  'v0-completed-after-record-final.json':
    'the v1 code announces an outcome found recorded with a local activity added without patched(); ' +
    'nothing in these histories tells a v0 execution from a v1 one, so no patch can serve both',
};

/** The committed histories, with the digest each was released with. */
function releasedHistories(): Array<{ file: string; digest: string }> {
  return readFileSync(RELEASED_DIGESTS, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [digest, file] = line.split(/\s+/);
      return { file, digest };
    });
}

const historyIn = (file: string): unknown => JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));

describe('committed workflow histories', () => {
  it('are kept as released: none modified, none removed, none added without its digest', () => {
    const released = releasedHistories();
    const present = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
    const digestOf = (file: string) =>
      createHash('sha256')
        .update(readFileSync(path.join(HISTORIES_DIR, file)))
        .digest('hex');
    expect(present.filter((file) => !released.some((r) => r.file === file))).toEqual([]);
    expect(released.filter(({ file }) => !present.includes(file)).map(({ file }) => `${file} removed`)).toEqual([]);
    expect(released.filter(({ file, digest }) => digestOf(file) !== digest).map(({ file }) => `${file} modified`)).toEqual([]);
    expect(released.map(({ file }) => file.split('-')[0])).toEqual(expect.arrayContaining(['v0', 'v1', 'v2']));
  });

  it('replay against the current workflow code', async () => {
    for (const { file } of releasedHistories().filter(({ file }) => !(file in UNREPLAYABLE))) {
      await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, historyIn(file), file)).resolves.toBeUndefined();
    }
  });

  it('that cannot replay are the ones listed, for the reason given', async () => {
    for (const file of Object.keys(UNREPLAYABLE)) {
      await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, historyIn(file), file)).rejects.toThrow(/Nondeterminism/);
    }
  });

  it('replay on the traced bundle too: tracing on or off, executions replay', async () => {
    const traced = { codePath: await bundleTracedWorkflowsForTests() };
    for (const { file } of releasedHistories().filter(({ file }) => !(file in UNREPLAYABLE))) {
      await expect(Worker.runReplayHistory({ workflowBundle: traced }, historyIn(file), file)).resolves.toBeUndefined();
    }
  }, 120_000);
});

describe('workflow determinism of every path recorded now', () => {
  let wallet: WalletHarness;
  const recordedNames: string[] = [];

  beforeAll(async () => {
    wallet = await WalletHarness.start('replay');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  /** Waits for the execution of a transaction to close, and replays its history at once. */
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
    await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, JSON.parse(json), name)).resolves.toBeUndefined();
    recordedNames.push(name);
    if (RECORD_TAG) {
      mkdirSync(HISTORIES_DIR, { recursive: true });
      writeFileSync(path.join(HISTORIES_DIR, `${RECORD_TAG}-${name}.json`), json);
    }
  }

  it('records each path of the transaction workflow, and each replays', async () => {
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

    expect(recordedNames).toHaveLength(11);
  }, 180_000);
});
