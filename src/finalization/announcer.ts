import type { AnnounceOutcome, DecisionPosition, TransactionDecision, TransactionFinalized } from '../domain';
import { KeyedMutex } from '../support/keyed-mutex';
import type { TransactionRecords } from '../transaction-record/transaction-records';
import { announcementKey, toAnnouncement } from './announcement';
import type { FinalizationEcho } from './echo';
import type { FinalizationLog } from './finalization-log';
import type { FinalizationPublisher } from './publisher';

export interface AnnouncerDependencies {
  records: Pick<TransactionRecords, 'decideCompleted' | 'isLatest'>;
  publisher: Pick<FinalizationPublisher, 'publish'>;
  log: Pick<FinalizationLog, 'rememberedAsDelivered' | 'rememberDelivered' | 'wasDelivered'>;
  echo: Pick<FinalizationEcho, 'catchUp'>;
}

const ANNOUNCED: AnnounceOutcome = { kind: 'announced' };
const SUPERSEDED: AnnounceOutcome = { kind: 'superseded' };

/** The attempt announcing: cancelled when Temporal gave up on it, and where it logs. */
export interface AnnouncementAttempt {
  cancellationSignal: AbortSignal;
  log: { info(message: string, meta?: Record<string, unknown>): void; warn(message: string, meta?: Record<string, unknown>): void };
}

/**
 * Announces each decision of a transaction exactly once, however often its step runs (a retry, a
 * regular activity taking over from a local one, a workflow task re-run after a crash, an attempt
 * that stalled, another run of the transaction): a Completed is recorded here first, and the
 * insert that records it is its first attempt; any other attempt asks the broker (through the
 * echo) whether an earlier one got through; and an attempt publishes only while its decision is
 * still the transaction's latest.
 */
export class Announcer {
  // Attempts at one announcement in this process take turns; the later one finds it remembered.
  private readonly announcing = new KeyedMutex();

  constructor(private readonly deps: AnnouncerDependencies) {}

  /**
   * Announces the decision at its position. A Failed must already be on the record (the run read it
   * there); a Completed is recorded here, unless another decision came first.
   */
  announce(
    transactionId: string,
    position: DecisionPosition,
    decision: TransactionDecision,
    attempt: AnnouncementAttempt,
  ): Promise<AnnounceOutcome> {
    const finalized = toAnnouncement({ transactionId, ...decision });
    return this.announcing.run(announcementKey(finalized), async () => {
      if (this.deps.log.rememberedAsDelivered(finalized)) return ANNOUNCED;
      let firstAttempt = false;
      if (position === 'first' && decision.status === 'Completed') {
        const { claimed, standing } = await this.deps.records.decideCompleted(transactionId);
        if (standing.status !== 'Completed') {
          attempt.log.warn('the transaction was decided Failed first; not announcing', { ...finalized });
          return SUPERSEDED;
        }
        firstAttempt = claimed;
      }
      if (!firstAttempt && (await this.announcedEarlier(finalized, attempt))) return ANNOUNCED;
      if (!(await this.publishIfLive(finalized, position, attempt))) return SUPERSEDED;
      this.deps.log.rememberDelivered(finalized);
      return ANNOUNCED;
    });
  }

  /** Whether an earlier attempt got the announcement into the broker's queues (its confirm may have died with it). */
  private async announcedEarlier(finalized: TransactionFinalized, attempt: AnnouncementAttempt): Promise<boolean> {
    if (await this.deps.log.wasDelivered(finalized)) return true;
    await this.deps.echo.catchUp();
    if (await this.deps.log.wasDelivered(finalized)) return true;
    attempt.log.info('an earlier attempt left no announcement in the broker; announcing', { ...finalized });
    return false;
  }

  /** Publishes unless the transaction moved on to another outcome while this attempt stalled. */
  private async publishIfLive(finalized: TransactionFinalized, position: DecisionPosition, attempt: AnnouncementAttempt): Promise<boolean> {
    const latest = await this.deps.records.isLatest(finalized.transactionId, finalized.status);
    attempt.cancellationSignal.throwIfAborted();
    if (!latest) {
      attempt.log.warn('the transaction moved on to another outcome; this attempt does not announce', { ...finalized });
      return false;
    }
    await this.deps.publisher.publish(finalized, position);
    return true;
  }
}
