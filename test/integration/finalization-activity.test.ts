import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDependencies } from '../../activities';
import type { TransactionFinalized } from '../../src/domain/transaction';
import { createLogger } from '../../src/logger';
import { BrokerConnection } from '../../src/messaging/broker-connection';
import { FinalizationEcho } from '../../src/messaging/finalization-echo';
import { FinalizationPublisher } from '../../src/messaging/finalization-publisher';
import { createMetrics } from '../../src/metrics';
import { openDatabase, type Database } from '../../src/persistence/mongo';
import { FinalizationLog } from '../../src/persistence/finalization-log';
import { objectId } from '../support/ids';
import { PlatformBroker } from '../support/platform-broker';
import { databaseUrlFor, TEST_RABBITMQ_URL } from '../support/tools';
import { dropDatabase } from '../support/wallet-service';
import { EXCHANGES, ROUTING_KEYS } from '../../src/messaging/topology';

// The finalization activity on the real broker and database, run as Temporal would run its attempts.
describe('announcing an outcome', () => {
  const url = databaseUrlFor('wallet_test_finalization');
  let db: Database;
  let broker: BrokerConnection;
  let platform: PlatformBroker;
  let activities: ReturnType<typeof createActivities>;
  let publisher: FinalizationPublisher;
  let echo: FinalizationEcho;

  beforeAll(async () => {
    await dropDatabase(url);
    db = await openDatabase(url);
    platform = await PlatformBroker.connect();
    await platform.purgeAll();
    const logger = createLogger('silent');
    broker = new BrokerConnection(TEST_RABBITMQ_URL, 'finalization-test', logger);
    publisher = new FinalizationPublisher(broker, createMetrics(), logger);
    echo = new FinalizationEcho(broker, db.finalizations, logger);
    broker.start();
    await broker.waitUntilConnected();
    activities = finalizationActivities(db.finalizations);
  });

  /** The activities of one process, with its own memory of confirmed announcements. */
  function finalizationActivities(log: ActivityDependencies['finalizationLog'], records: ActivityDependencies['records'] = db.transactionRecords) {
    const unused = () => Promise.reject(new Error('not part of this specification'));
    return createActivities({
      ledger: { applyLeg: unused, reversalsOf: unused },
      finalizations: publisher,
      finalizationLog: log,
      finalizationEcho: echo,
      records,
      reconcile: unused,
    });
  }
  afterAll(async () => {
    await broker.close();
    await platform.close();
    await db.close();
  });

  /** Runs the activity as Temporal's attempt number `n`. */
  const announce = (n: number, finalized: TransactionFinalized) =>
    new MockActivityEnvironment({ attempt: n, isLocal: true }).run(activities.publishFinalization, finalized);

  /** Runs the step in a fresh process (no memory of what it announced), as Temporal's attempt `n`. */
  const announceInSuccessor = (n: number, finalized: TransactionFinalized) =>
    new MockActivityEnvironment({ attempt: n, isLocal: false }).run(finalizationActivities(new FinalizationLog(db.connection)).publishFinalization, finalized);

  /** Announces a later outcome, then expects the transaction's announcements to be exactly these. */
  async function expectAnnouncedOnceThenFailed(transactionId: string): Promise<void> {
    await announce(1, { transactionId, status: 'Failed', reason: 'later' });
    await platform.finalizationsCount(transactionId, 2);
    expect(platform.finalizationsOf(transactionId).map((f) => f.status)).toEqual(['Completed', 'Failed']);
  }

  it('publishes wallet.transactionFinalized exactly in the contract shape', async () => {
    const transactionId = objectId();
    await announce(1, { transactionId, status: 'Failed', reason: 'Insufficient balance' });
    expect(await platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Insufficient balance' });
  });

  it('does not announce again when a retry follows an attempt the broker confirmed', async () => {
    const transactionId = objectId();
    await announce(1, { transactionId, status: 'Completed' });
    await announce(2, { transactionId, status: 'Completed' });
    await platform.finalizationOf(transactionId);
    // A later, different outcome of the same transaction is still announced.
    await announce(1, { transactionId, status: 'Failed', reason: 'Chargeback' });
    await platform.finalizationsCount(transactionId, 2);
    expect(platform.finalizationsOf(transactionId)).toEqual([
      { transactionId, status: 'Completed' },
      { transactionId, status: 'Failed', reason: 'Chargeback' },
    ]);
  });

  it('does not announce again when a regular activity takes over from a confirmed local one', async () => {
    const transactionId = objectId();
    await announce(1, { transactionId, status: 'Completed' });
    const completed: TransactionFinalized = { transactionId, status: 'Completed' };
    await new MockActivityEnvironment({ attempt: 1, isLocal: false }).run(activities.publishFinalization, completed);
    await expectAnnouncedOnceThenFailed(transactionId);
  });

  it('announces once when a regular activity takes over while the timed-out local attempt still runs', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    await db.transactionRecords.recordOutcome(completed, []); // earlier attempts never reached the broker
    await Promise.all([
      new MockActivityEnvironment({ attempt: 10, isLocal: true }).run(activities.publishFinalization, completed),
      new MockActivityEnvironment({ attempt: 1, isLocal: false }).run(activities.publishFinalization, completed),
    ]);
    await expectAnnouncedOnceThenFailed(completed.transactionId);
  });

  it('does not announce again when another process runs the step again after a crash', async () => {
    const transactionId = objectId();
    await announce(1, { transactionId, status: 'Completed' });
    await announceInSuccessor(1, { transactionId, status: 'Completed' });
    await expectAnnouncedOnceThenFailed(transactionId);
  });

  it('does not announce again when the broker routed an attempt whose process died before the confirm', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    // What the dead process left: its recorded outcome, and its message in the broker's queues.
    await db.transactionRecords.recordOutcome(completed, []);
    platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized, completed);
    await announceInSuccessor(2, completed);
    await expectAnnouncedOnceThenFailed(completed.transactionId);
  });

  it('does not announce from an attempt that froze before publishing while the transaction moved on', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    // The first attempt records its outcome, then stalls (a long pause) before it publishes.
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    let recorded!: () => void;
    const outcomeRecorded = new Promise<void>((resolve) => (recorded = resolve));
    const stalling: ActivityDependencies['records'] = {
      open: (opening) => db.transactionRecords.open(opening),
      isLatest: (f) => db.transactionRecords.isLatest(f),
      recordOutcome: async (f, legs) => {
        const recording = await db.transactionRecords.recordOutcome(f, legs);
        recorded();
        await thawed;
        return recording;
      },
    };
    const frozen = new MockActivityEnvironment({ attempt: 1, isLocal: true }).run(
      finalizationActivities(new FinalizationLog(db.connection), stalling).publishFinalization,
      completed,
    );
    // Meanwhile its retry announces Completed, and a rollback of the transaction announces Failed.
    await outcomeRecorded;
    await announceInSuccessor(2, completed);
    await announce(1, { transactionId: completed.transactionId, status: 'Failed', reason: 'Chargeback' });
    await platform.finalizationsCount(completed.transactionId, 2);
    thaw();
    await frozen;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(platform.finalizationsOf(completed.transactionId).map((f) => f.status)).toEqual(['Completed', 'Failed']);
  });

  it('announces on a retry whose earlier attempt never reached the broker', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    await db.transactionRecords.recordOutcome(completed, []);
    await announceInSuccessor(2, completed);
    expect(await platform.finalizationOf(completed.transactionId)).toEqual(completed);
  });
});
