import {
  rejectionReason,
  type TransactionCompleted,
  type TransactionFailed,
  type TransactionRejected,
  type TransactionStatus,
} from '../../workflows/contract';
import type { Ledger } from '../ledger/ledger';
import type { TransactionRecords } from '../transaction-record/transaction-records';
import { eventCanChange, type TransactionEventKind } from '../transaction-record/what-events-change';
import type { ConsumedMessage } from './messages';

/** What became of an event handed to a transaction's workflow. */
export type Submission =
  | { kind: 'accepted' }
  /** The transaction's execution has already closed; the event was not delivered. */
  | { kind: 'closed'; status: TransactionStatus | undefined }
  /** The transaction had closed Completed: a reversal execution was started (or already was). */
  | { kind: 'reversal'; started: boolean };

/** Where transaction events become durable: the transaction's workflow (see temporal/transaction-workflows). */
export interface TransactionEventSink {
  submitCompleted(event: TransactionCompleted): Promise<Submission>;
  submitFailed(event: TransactionFailed): Promise<Submission>;
  submitRejected(rejection: TransactionRejected): Promise<Submission>;
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
  ) {}

  async route(message: ConsumedMessage): Promise<Disposition> {
    switch (message.kind) {
      case 'userSignup': {
        const { created } = await this.ledger.openWallet(message.userId);
        return { outcome: created ? 'accepted' : 'duplicate' };
      }
      case 'transactionCompleted': {
        if (!(await this.canChange('completed', message.event.transactionId))) return { outcome: 'duplicate' };
        const submission = await this.workflows.submitCompleted(message.event);
        return { outcome: submission.kind === 'accepted' ? 'accepted' : 'duplicate' };
      }
      case 'transactionFailed': {
        if (!(await this.canChange('failed', message.event.transactionId))) return { outcome: 'duplicate' };
        const submission = await this.workflows.submitFailed(message.event);
        const accepted = submission.kind === 'accepted' || (submission.kind === 'reversal' && submission.started);
        return { outcome: accepted ? 'accepted' : 'duplicate' };
      }
      case 'transactionRejected': {
        const { transactionId, problem } = message;
        // Dead-lettered either way; announced Failed only where it is the transaction's first word.
        if (await this.canChange('rejected', transactionId)) {
          await this.workflows.submitRejected({ transactionId, reason: rejectionReason(problem) });
        }
        return { outcome: 'dead_lettered', reason: problem };
      }
    }
  }

  /** The transaction record, not Temporal's memory of executions, says whether an event still matters. */
  private async canChange(event: TransactionEventKind, transactionId: string): Promise<boolean> {
    return eventCanChange(event, await this.records.statusOf(transactionId));
  }
}
