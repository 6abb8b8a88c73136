import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { TransactionCompleted, TransactionFailed } from '../domain/transaction';
import {
  SEARCH_ATTRIBUTES,
  transactionCompletedSignal,
  transactionFailedSignal,
  TRANSACTION_WORKFLOW_TYPE,
  transactionWorkflowId,
  type TransactionStatus,
} from '../../workflows/definitions';
import type { walletTransaction } from '../../workflows/wallet-transaction';

/** What became of an event handed to a transaction's workflow. */
export type Submission =
  | { kind: 'accepted' }
  /** The transaction's execution has already closed; the event was not delivered. */
  | { kind: 'closed'; status: TransactionStatus | undefined };

/**
 * Hands transaction events to their workflow. Both events of a transaction go to the one execution
 * whose id derives from its transactionId (signal-with-start). An execution that has closed is never
 * started again (REJECT_DUPLICATE), so a redelivery after the end cannot apply anything twice.
 */
export class TransactionWorkflows {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly lateFailureWindowSeconds: number,
  ) {}

  submitCompleted(event: TransactionCompleted): Promise<Submission> {
    return this.submit(event.transactionId, transactionCompletedSignal.name, event);
  }

  submitFailed(event: TransactionFailed): Promise<Submission> {
    return this.submit(event.transactionId, transactionFailedSignal.name, event);
  }

  private async submit(transactionId: string, signal: string, event: TransactionCompleted | TransactionFailed): Promise<Submission> {
    const workflowId = transactionWorkflowId(transactionId);
    try {
      await this.client.workflow.signalWithStart<typeof walletTransaction, [typeof event]>(TRANSACTION_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [{ transactionId, lateFailureWindowSeconds: this.lateFailureWindowSeconds }],
        signal,
        signalArgs: [event],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        workflowTaskTimeout: '10s',
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.transactionId, value: transactionId },
          { key: SEARCH_ATTRIBUTES.transactionType, value: event.type },
          { key: SEARCH_ATTRIBUTES.status, value: 'Pending' },
        ],
      });
      return { kind: 'accepted' };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const description = await this.client.workflow.getHandle(workflowId).describe();
      const status = description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status) as TransactionStatus | undefined;
      return { kind: 'closed', status };
    }
  }
}
