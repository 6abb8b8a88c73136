import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { Types } from 'mongoose';
import type { TransactionFinalized } from '../../src/domain';
import type { WalletService } from '../../src/service';
import { ENTRIES_ONLY, Ledger, verifyChain } from '../../src/ledger';
import { createMetrics } from '../../src/metrics';
import { openStores, type Stores } from '../../src/stores';
import { startDoomedService, type CrashPoint } from '../support/doomed-service';
import { eventually, throughout } from '../support/eventually';
import { objectId } from '../support/ids';
import { PlatformBroker } from '../support/platform-broker';
import { dropDatabase, startTestService, testConfig } from '../support/wallet-service';
import { transactionWorkflowId, type TransactionState } from '../../workflows/wallet-transaction/definitions';

const SUITE = 'crash';

// A worker process killed right after a step of a transfer did its work and before Temporal learned
// of it; a new process then runs the transaction again from its history. Whatever the moment, each
// leg is applied once and the legs standing match the one outcome announced.
describe('a worker process killed in the middle of a transfer', () => {
  const env = { TEMPORAL_TASK_QUEUE: `wallet-test-crash-${objectId()}` };
  const config = testConfig(SUITE, env);
  let platform: PlatformBroker;
  let db: Stores;
  let temporal: Client;
  let successor: WalletService | undefined;
  let doomedChild: ChildProcess | undefined;

  beforeAll(async () => {
    platform = await PlatformBroker.connect();
    await platform.purgeAll();
    await dropDatabase(config.mongo.url);
    db = await openStores(config.mongo.url);
    temporal = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
  });
  afterEach(async () => {
    doomedChild?.kill('SIGKILL');
    await successor?.stop();
    successor = undefined;
  });
  afterAll(async () => {
    await db.close();
    await platform.close();
    await temporal.connection.close();
  });

  const entriesOf = async (transactionId: string) =>
    (
      await db.ledger.entries
        .find({ transactionId: new Types.ObjectId(transactionId), ...ENTRIES_ONLY })
        .sort({ createdAt: 1 })
        .lean()
        .exec()
    ).map((e) => [e.leg, e.userId.toHexString(), e.amount]);
  const balanceOf = async (userId: string) =>
    (
      await db.ledger.wallets
        .findOne({ userId: new Types.ObjectId(userId) })
        .lean()
        .exec()
    )?.balance;
  const signUp = async (...users: string[]) => {
    for (const user of users) platform.signup(user);
    await eventually(`${users.length} wallets`, async () =>
      (await db.ledger.wallets.countDocuments({ userId: { $in: users.map((u) => new Types.ObjectId(u)) } })) === users.length
        ? true
        : undefined,
    );
  };

  /** The recipient signs up while no service runs: their wallet is opened as the sign-up's consumer opens it. */
  const openWallet = async (recipient: string) => void (await new Ledger(db.ledger, createMetrics(), 0).openWallet(recipient));

  /**
   * Runs a transfer of 250 from a sender holding 1,000 through a service that dies after `crash`,
   * lets `meanwhile` happen, then starts a successor; returns the transfer's parties, what the
   * platform had received when the service died, and the state the successor's run closed with.
   */
  async function transferThroughCrash(
    crashAfter: Omit<CrashPoint, 'transactionId'>,
    { recipientHasWallet = true, meanwhile = async (_recipient: string): Promise<void> => undefined } = {},
  ): Promise<{
    transactionId: string;
    sender: string;
    recipient: string;
    announcedAtCrash: TransactionFinalized[];
    closed: TransactionState;
  }> {
    const [sender, recipient, transactionId] = [objectId(), objectId(), objectId()];
    const doomed = await startDoomedService(config, { transactionId, ...crashAfter });
    doomedChild = doomed.child;
    await signUp(...(recipientHasWallet ? [sender, recipient] : [sender]));
    const topUp = objectId();
    platform.topUp(topUp, sender, 1000);
    await platform.finalizationOf(topUp);
    platform.transfer(transactionId, sender, recipient, 250);
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The broker confirmed a publish before the crash; its delivery to the platform may follow it.
    const announcedAtCrash =
      crashAfter.after === 'publish' ? [await platform.finalizationOf(transactionId)] : platform.finalizationsOf(transactionId);
    await meanwhile(recipient);
    successor = await startTestService(SUITE, env, undefined, { keepDatabase: true });
    const closed = await temporal.workflow.getHandle<() => Promise<TransactionState>>(transactionWorkflowId(transactionId)).result();
    for (const user of [sender, recipient]) {
      verifyChain(
        user,
        await db.ledger.entries
          .find({ userId: new Types.ObjectId(user), ...ENTRIES_ONLY })
          .sort({ version: 1 })
          .lean()
          .exec(),
      );
    }
    return { transactionId, sender, recipient, announcedAtCrash, closed };
  }

  /** No second announcement comes: identical repeats would be the announcer's failure, another status the decision's. */
  async function announcedOnly(transactionId: string, expected: unknown[]): Promise<void> {
    await throughout(500, () => expect(platform.finalizationsOf(transactionId)).toEqual(expected));
  }

  /** The transfer stands completed: each forward leg once, the balances moved, one Completed announced. */
  async function completedOnce(transactionId: string, sender: string, recipient: string): Promise<void> {
    expect(await entriesOf(transactionId)).toEqual([
      ['debit', sender, -250],
      ['credit', recipient, 250],
    ]);
    expect([await balanceOf(sender), await balanceOf(recipient)]).toEqual([750, 250]);
    await announcedOnly(transactionId, [{ transactionId, status: 'Completed' }]);
  }

  it('after the debit: the successor completes it, each leg once', async () => {
    const { transactionId, sender, recipient, announcedAtCrash } = await transferThroughCrash({ after: 'applyLeg', leg: 'debit' });
    expect(announcedAtCrash).toEqual([]);
    await completedOnce(transactionId, sender, recipient);
  }, 120_000);

  it('after compensating the debit of a credit refused for want of a wallet: the recipient signing up meanwhile changes nothing, it ends Failed', async () => {
    const { transactionId, sender, recipient, announcedAtCrash } = await transferThroughCrash(
      { after: 'undoLeg', leg: 'debit' },
      { recipientHasWallet: false, meanwhile: openWallet },
    );
    expect(announcedAtCrash).toEqual([]);
    expect(await entriesOf(transactionId)).toEqual([
      ['debit', sender, -250],
      ['compensation', sender, 250],
    ]);
    expect([await balanceOf(sender), await balanceOf(recipient)]).toEqual([1000, 0]);
    await announcedOnly(transactionId, [{ transactionId, status: 'Failed', reason: 'Recipient wallet not found' }]);
  }, 120_000);

  it('after the credit was refused and before anything was decided: the successor, finding the wallet there now, completes it', async () => {
    const { transactionId, sender, recipient, announcedAtCrash } = await transferThroughCrash(
      { after: 'applyLeg', leg: 'credit' },
      { recipientHasWallet: false, meanwhile: openWallet },
    );
    expect(announcedAtCrash).toEqual([]);
    await completedOnce(transactionId, sender, recipient);
  }, 120_000);

  it('after the Completed was published, before Temporal learned of it: the successor finds it announced and publishes nothing more', async () => {
    const { transactionId, sender, recipient, announcedAtCrash, closed } = await transferThroughCrash({ after: 'publish' });
    expect(announcedAtCrash).toEqual([{ transactionId, status: 'Completed' }]);
    expect(closed.finalizations).toEqual([{ status: 'Completed' }]);
    await completedOnce(transactionId, sender, recipient);
  }, 120_000);
});
