import type { AppliedLeg, TransactionFinalized } from '../../workflows/contract';
import { KeyedMutex } from '../support/keyed-mutex';
import type { TransactionRecords } from '../transaction-record/transaction-records';
import { announcementKey, toAnnouncement } from './announcement';
import type { FinalizationEcho } from './echo';
import type { FinalizationLog } from './finalization-log';
import type { FinalizationPublisher } from './publisher';

export interface AnnouncerDependencies {
  records: Pick<TransactionRecords, 'recordOutcome' | 'isLatest'>;
  publisher: Pick<FinalizationPublisher, 'publish'>;
  log: Pick<FinalizationLog, 'rememberedAsDelivered' | 'rememberDelivered' | 'wasDelivered'>;
  echo: Pick<FinalizationEcho, 'catchUp'>;
}

/** The attempt announcing: cancelled when Temporal gave up on it, and where it logs. */
export interface AnnouncementAttempt {
  cancellationSignal: AbortSignal;
  log: { info(message: string, meta?: Record<string, unknown>): void; warn(message: string, meta?: Record<string, unknown>): void };
}

/**
 * Announces each outcome of a transaction exactly once, however often its step runs (a retry, a
 * regular activity taking over from a local one, a workflow task re-run after a crash, an attempt
 * that stalled): the outcome is recorded first, a retry asks the broker (through the echo) whether
 * an earlier attempt got through, and an attempt publishes only while its outcome is still the
 * transaction's latest.
 */
export class Announcer {
  // Attempts at one announcement in this process take turns; the later one finds it remembered.
  private readonly announcing = new KeyedMutex();

  constructor(private readonly deps: AnnouncerDependencies) {}

  announce(requested: TransactionFinalized, legs: readonly AppliedLeg[], attempt: AnnouncementAttempt): Promise<void> {
    const finalized = toAnnouncement(requested);
    return this.announcing.run(announcementKey(finalized), async () => {
      if (this.deps.log.rememberedAsDelivered(finalized)) return;
      const { recording, firstAttempt } = await this.deps.records.recordOutcome(finalized, legs);
      if (recording === 'superseded') {
        attempt.log.warn('the transaction is already final with another outcome; not announcing', { ...finalized });
        return;
      }
      if (!firstAttempt && (await this.announcedEarlier(finalized, attempt))) return;
      if (await this.publishIfLive(finalized, attempt)) this.deps.log.rememberDelivered(finalized);
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
  private async publishIfLive(finalized: TransactionFinalized, attempt: AnnouncementAttempt): Promise<boolean> {
    const latest = await this.deps.records.isLatest(finalized);
    attempt.cancellationSignal.throwIfAborted();
    if (!latest) {
      attempt.log.warn('the transaction moved on to another outcome; this attempt does not announce', { ...finalized });
      return false;
    }
    await this.deps.publisher.publish(finalized);
    return true;
  }
}
