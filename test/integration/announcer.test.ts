import type { AnnounceOutcome, TransactionFinalized } from '../../src/domain';
import { Announcer, type AnnouncementAttempt, type AnnouncerDependencies } from '../../src/finalization/announcer';
import { createLogger } from '../../src/logger';
import { BrokerConnection } from '../../src/messaging/broker-connection';
import { FinalizationEcho } from '../../src/finalization/echo';
import { FinalizationPublisher } from '../../src/finalization/publisher';
import { createMetrics } from '../../src/metrics';
import { openStores, type Stores } from '../../src/stores';
import { FinalizationLog } from '../../src/finalization/finalization-log';
import { DEFAULT_FINALIZATION_LOG_RETENTION_HOURS } from '../../src/config';
import { throughout } from '../support/eventually';
import { objectId } from '../support/ids';
import { PlatformBroker } from '../support/platform-broker';
import { databaseUrlFor, TEST_RABBITMQ_URL } from '../support/tools';
import { dropDatabase } from '../support/wallet-service';
import { EXCHANGES, ROUTING_KEYS } from '../../src/messaging/topology';

// The announcement protocol on the real broker and database, its step run as Temporal runs its
// attempts: again in the same process, in another process, concurrently, or stalled.
/** How long the finalization log keeps a delivery here: the service's default. */
const RETENTION_MS = DEFAULT_FINALIZATION_LOG_RETENTION_HOURS * 3_600_000;

describe('announcing an outcome', () => {
  const url = databaseUrlFor('wallet_test_finalization');
  let db: Stores;
  let broker: BrokerConnection;
  let platform: PlatformBroker;
  let announcer: Announcer;
  let publisher: FinalizationPublisher;
  let echo: FinalizationEcho;

  beforeAll(async () => {
    await dropDatabase(url);
    db = await openStores(url);
    platform = await PlatformBroker.connect();
    await platform.purgeAll();
    const logger = createLogger('silent');
    broker = new BrokerConnection(TEST_RABBITMQ_URL, 'finalization-test', logger);
    publisher = new FinalizationPublisher(broker, createMetrics(), logger);
    echo = new FinalizationEcho(broker, db.finalizations, 60_000, logger);
    broker.start();
    await broker.waitUntilConnected();
    announcer = announcerOf(db.finalizations);
  });

  /** The announcer of one process, with its own memory of confirmed announcements. */
  function announcerOf(log: AnnouncerDependencies['log'], records: AnnouncerDependencies['records'] = db.records): Announcer {
    return new Announcer({ records, publisher, log, echo });
  }

  /** A live attempt of the step (its activity not cancelled). */
  const attempt = (): AnnouncementAttempt => ({
    cancellationSignal: new AbortController().signal,
    log: { info: () => undefined, warn: () => undefined },
  });
  afterAll(async () => {
    await broker.close();
    await platform.close();
    await db.close();
  });

  /**
   * Runs the step in this process (`by`), as a run does: a Completed is decided by the step itself,
   * a Failed was decided before, at its position (the rollback's, after a Completed).
   */
  async function announce(finalized: TransactionFinalized, by: Announcer = announcer): Promise<AnnounceOutcome> {
    const { transactionId } = finalized;
    if (finalized.status === 'Completed') return by.announce(transactionId, 'first', { status: 'Completed' }, attempt());
    const position = (await db.records.decisionAt(transactionId, 'first'))?.status === 'Completed' ? 'rollback' : 'first';
    const decision = { status: 'Failed', reason: finalized.reason ?? 'Transaction failed', undo: 'reversal' } as const;
    const standing = await db.records.decideFailed(transactionId, position, decision);
    return by.announce(transactionId, position, standing, attempt());
  }

  /** Runs the step in a fresh process (no memory of what it announced). */
  const announceInSuccessor = (finalized: TransactionFinalized) =>
    announce(finalized, announcerOf(new FinalizationLog(db.connection, RETENTION_MS)));

  /** Announces a later outcome, then expects the transaction's announcements to be exactly these. */
  async function expectAnnouncedOnceThenFailed(transactionId: string): Promise<void> {
    await announce({ transactionId, status: 'Failed', reason: 'later' });
    await platform.finalizationsCount(transactionId, 2);
    expect(platform.finalizationsOf(transactionId).map((f) => f.status)).toEqual(['Completed', 'Failed']);
  }

  it('publishes wallet.transactionFinalized exactly in the contract shape', async () => {
    const transactionId = objectId();
    expect(await announce({ transactionId, status: 'Failed', reason: 'Insufficient balance' })).toEqual({ kind: 'announced' });
    expect(await platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Insufficient balance' });
  });

  it('does not announce again when a retry follows an attempt the broker confirmed', async () => {
    const transactionId = objectId();
    await announce({ transactionId, status: 'Completed' });
    await announce({ transactionId, status: 'Completed' });
    await platform.finalizationOf(transactionId);
    // A later, different outcome of the same transaction is still announced.
    await announce({ transactionId, status: 'Failed', reason: 'Chargeback' });
    await platform.finalizationsCount(transactionId, 2);
    expect(platform.finalizationsOf(transactionId)).toEqual([
      { transactionId, status: 'Completed' },
      { transactionId, status: 'Failed', reason: 'Chargeback' },
    ]);
  });

  it('announces once when two attempts run at once in one process (a regular activity taking over from a timed-out local one)', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    await db.records.decideCompleted(completed.transactionId); // earlier attempts never reached the broker
    await Promise.all([announce(completed), announce(completed)]);
    await expectAnnouncedOnceThenFailed(completed.transactionId);
  });

  it('does not announce again when another process runs the step again after a crash', async () => {
    const transactionId = objectId();
    await announce({ transactionId, status: 'Completed' });
    await announceInSuccessor({ transactionId, status: 'Completed' });
    await expectAnnouncedOnceThenFailed(transactionId);
  });

  it('does not announce again when the broker routed an attempt whose process died before the confirm', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    // What the dead process left: its recorded outcome, and its message in the broker's queues.
    await db.records.decideCompleted(completed.transactionId);
    platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized, completed);
    // Routed to the platform's queue, so to the echo's too, before the successor's fence.
    await platform.finalizationOf(completed.transactionId);
    await announceInSuccessor(completed);
    await expectAnnouncedOnceThenFailed(completed.transactionId);
  });

  it('does not announce from an attempt that froze before publishing while the transaction moved on', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    // The first attempt records its outcome, then stalls (a long pause) before it publishes.
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    let recorded!: () => void;
    const outcomeRecorded = new Promise<void>((resolve) => (recorded = resolve));
    const stalling: AnnouncerDependencies['records'] = {
      isLatest: (transactionId, status) => db.records.isLatest(transactionId, status),
      decideCompleted: async (transactionId) => {
        const decided = await db.records.decideCompleted(transactionId);
        recorded();
        await thawed;
        return decided;
      },
    };
    const frozen = announce(completed, announcerOf(new FinalizationLog(db.connection, RETENTION_MS), stalling));
    // Meanwhile its retry announces Completed, and a rollback of the transaction announces Failed.
    await outcomeRecorded;
    await announceInSuccessor(completed);
    await announce({ transactionId: completed.transactionId, status: 'Failed', reason: 'Chargeback' });
    await platform.finalizationsCount(completed.transactionId, 2);
    thaw();
    expect(await frozen).toEqual({ kind: 'superseded' });
    await throughout(1_000, () =>
      expect(platform.finalizationsOf(completed.transactionId).map((f) => f.status)).toEqual(['Completed', 'Failed']),
    );
  });

  it('announces nothing for a Completed when the transaction was decided Failed first', async () => {
    const transactionId = objectId();
    await db.records.decideFailed(transactionId, 'first', { status: 'Failed', reason: 'Declined', undo: 'reversal' });
    expect(await announce({ transactionId, status: 'Completed' })).toEqual({ kind: 'superseded' });
    await announce({ transactionId, status: 'Failed', reason: 'Declined' });
    await platform.finalizationOf(transactionId);
    expect(platform.finalizationsOf(transactionId)).toEqual([{ transactionId, status: 'Failed', reason: 'Declined' }]);
  });

  it('learns from the echo of a burst of announcements, some of them recorded before, that each went out', async () => {
    const burst: TransactionFinalized[] = Array.from({ length: 50 }, () => ({ transactionId: objectId(), status: 'Completed' }));
    // A copy the echo recorded before its ack was lost comes again, in a batch with new ones.
    await db.finalizations.recordDelivered(burst.slice(0, 5));
    for (const finalized of burst) platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized, finalized);
    // The burst went out on another connection than the fence: once the platform's queue holds every
    // copy, the broker has routed each to the echo's queue too, ahead of the fence.
    for (const finalized of burst) await platform.finalizationOf(finalized.transactionId);
    await echo.catchUp();
    const delivered = await Promise.all(burst.map((finalized) => db.finalizations.wasDelivered(finalized)));
    expect(delivered.filter(Boolean)).toHaveLength(burst.length);
  });

  it('announces on a retry whose earlier attempt never reached the broker', async () => {
    const completed: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    await db.records.decideCompleted(completed.transactionId);
    await announceInSuccessor(completed);
    expect(await platform.finalizationOf(completed.transactionId)).toEqual(completed);
  });

  it('keeps what a retry reads for the retention, then prunes it, and prunes fences no waiter took', async () => {
    const kept: TransactionFinalized = { transactionId: objectId(), status: 'Completed' };
    await db.finalizations.recordDelivered([kept]);
    await db.finalizations.recordFence(`orphan-${kept.transactionId}`);
    const pruneAt = (msFromNow: number) => db.finalizations.prune(new Date(Date.now() + msFromNow));

    expect(await pruneAt(0)).toEqual({ deliveries: 0, fences: 0 });
    expect(await db.finalizations.wasDelivered(kept)).toBe(true);
    expect((await pruneAt(2 * 3_600_000)).fences).toBeGreaterThanOrEqual(1);
    expect(await db.finalizations.takeFence(`orphan-${kept.transactionId}`)).toBe(false);
    expect(await db.finalizations.wasDelivered(kept)).toBe(true);

    expect((await pruneAt(RETENTION_MS + 60_000)).deliveries).toBeGreaterThanOrEqual(1);
    expect(await db.finalizations.wasDelivered(kept)).toBe(false);
  });
});
