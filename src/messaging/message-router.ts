import type { Ledger } from '../ledger/ledger';
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
    private readonly workflows: Pick<TransactionWorkflows, 'submitCompleted' | 'submitFailed'>,
  ) {}

  async route(message: ConsumedMessage): Promise<Disposition> {
    switch (message.kind) {
      case 'userSignup': {
        const { created } = await this.ledger.openWallet(message.userId);
        return { outcome: created ? 'accepted' : 'duplicate' };
      }
      case 'transactionCompleted': {
        const submission = await this.workflows.submitCompleted(message.event);
        return { outcome: submission.kind === 'accepted' ? 'accepted' : 'duplicate' };
      }
      case 'transactionFailed': {
        const submission = await this.workflows.submitFailed(message.event);
        const accepted = submission.kind === 'accepted' || (submission.kind === 'reversal' && submission.started);
        return { outcome: accepted ? 'accepted' : 'duplicate' };
      }
    }
  }
}
