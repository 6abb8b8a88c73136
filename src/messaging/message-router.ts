import { eventCanChange, rejectionReason } from '../domain/transaction';
import type { Ledger } from '../ledger/ledger';
import type { TransactionRecords } from '../persistence/transaction-record';
import type { TransactionWorkflows } from '../temporal/transaction-workflows';
import type { ConsumedMessage } from './messages';

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
    private readonly workflows: Pick<TransactionWorkflows, 'submitCompleted' | 'submitFailed' | 'submitRejected'>,
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
  private async canChange(event: 'completed' | 'failed' | 'rejected', transactionId: string): Promise<boolean> {
    return eventCanChange(event, await this.records.statusOf(transactionId));
  }
}
