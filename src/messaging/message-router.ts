import {
  rejectionReason,
  type TransactionCompleted,
  type TransactionFailed,
  type TransactionRejected,
  type TransactionEventKind,
} from '../domain';
import type { Ledger } from '../ledger';
import type { TransactionRecords } from '../transaction-record/transaction-records';
import { settledFor } from '../transaction-record/what-events-change';
import type { ConsumedMessage } from './messages';

/** Where transaction events become durable: the transaction's workflow (see temporal/transaction-workflows). */
export interface TransactionEventSink {
  submitCompleted(event: TransactionCompleted): Promise<void>;
  submitFailed(event: TransactionFailed): Promise<void>;
  submitRejected(rejection: TransactionRejected): Promise<void>;
}

/** What the bridge does with a message once its effect is durable (or refused). */
export type Disposition =
  | { outcome: 'accepted' }
  /** Already handled before: acknowledged without effect. */
  | { outcome: 'duplicate' }
  | { outcome: 'dead_lettered'; reason: string };

/** Routes a validated message to where its effect becomes durable: the database or Temporal. */
export class MessageRouter {
  constructor(
    private readonly ledger: Pick<Ledger, 'openWallet'>,
    private readonly workflows: TransactionEventSink,
    private readonly records: Pick<TransactionRecords, 'statusOf'>,
    /** Which announcements reached the broker (the finalization log). */
    private readonly announcements: Parameters<typeof settledFor>[3],
  ) {}

  async route(message: ConsumedMessage): Promise<Disposition> {
    switch (message.kind) {
      case 'userSignup': {
        const { created } = await this.ledger.openWallet(message.userId);
        return { outcome: created ? 'accepted' : 'duplicate' };
      }
      case 'transactionCompleted': {
        if (await this.settled('completed', message.event.transactionId)) return { outcome: 'duplicate' };
        await this.workflows.submitCompleted(message.event);
        return { outcome: 'accepted' };
      }
      case 'transactionFailed': {
        if (await this.settled('failed', message.event.transactionId)) return { outcome: 'duplicate' };
        await this.workflows.submitFailed(message.event);
        return { outcome: 'accepted' };
      }
      case 'transactionRejected': {
        const { transactionId, problem } = message;
        // Dead-lettered either way; it reaches the transaction unless that is settled.
        if (!(await this.settled('rejected', transactionId))) {
          await this.workflows.submitRejected({ transactionId, reason: rejectionReason(problem) });
        }
        return { outcome: 'dead_lettered', reason: problem };
      }
    }
  }

  /**
   * A message that kept failing for a permanent reason: dead-lettered with `problem`; a
   * `transaction.completed` is refused as one that fails validation is, so its transaction ends
   * Failed unless it has terms already.
   */
  giveUp(message: ConsumedMessage, problem: string): Promise<Disposition> {
    if (message.kind !== 'transactionCompleted') return Promise.resolve({ outcome: 'dead_lettered', reason: problem });
    return this.route({ kind: 'transactionRejected', transactionId: message.event.transactionId, problem });
  }

  /** The transaction record and its announcements, not Temporal's memory of executions, say whether an event still matters. */
  private settled(event: TransactionEventKind, transactionId: string): Promise<boolean> {
    return settledFor(event, transactionId, this.records, this.announcements);
  }
}
