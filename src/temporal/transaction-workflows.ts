import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import {
  partiesOf,
  SEARCH_ATTRIBUTES,
  TRANSACTION_MEMO_KEY,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  TRANSACTION_REVERSAL_WORKFLOW_TYPE,
  TRANSACTION_WORKFLOW_TYPE,
  transactionReversalWorkflowId,
  transactionWorkflowId,
  type TransactionCompleted,
  type TransactionFailed,
  type TransactionRejected,
  type TransactionStatus,
} from '../../workflows/contract';
import type { Submission, TransactionEventSink } from '../messaging/message-router';
import type { walletReversal } from '../../workflows/wallet-reversal';
import type { walletTransaction } from '../../workflows/wallet-transaction';

type TransactionEvent = TransactionCompleted | TransactionFailed | TransactionRejected;

/**
 * Hands transaction events to their workflow. Both events of a transaction go to the one execution
 * whose id derives from its transactionId (signal-with-start). An execution that completed is never
 * started again, so a redelivery after the end starts nothing. One that did not complete (an
 * operator terminated it, say) is started again by the next event: the new run finishes the
 * transaction from its record and its ledger, where legs already applied are not applied twice.
 */
export class TransactionWorkflows implements TransactionEventSink {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  submitCompleted(event: TransactionCompleted): Promise<Submission> {
    return this.submit(event.transactionId, transactionCompletedSignal.name, event);
  }

  /** A refused `transaction.completed`: its execution announces Failed, unless it already settled. */
  submitRejected(rejection: TransactionRejected): Promise<Submission> {
    return this.submit(rejection.transactionId, transactionRejectedSignal.name, rejection);
  }

  /**
   * A failure reaches the transaction's execution while it runs; after it closed as Completed, a
   * reversal execution (one per transaction) undoes it from the ledger.
   */
  async submitFailed(event: TransactionFailed): Promise<Submission> {
    const submission = await this.submit(event.transactionId, transactionFailedSignal.name, event);
    if (submission.kind !== 'closed' || submission.status !== 'Completed') return submission;
    try {
      await this.client.workflow.start<typeof walletReversal>(TRANSACTION_REVERSAL_WORKFLOW_TYPE, {
        ...this.startOptions(transactionReversalWorkflowId(event.transactionId), event),
        args: [event],
      });
      return { kind: 'reversal', started: true };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'reversal', started: false };
      throw error;
    }
  }

  private async submit(transactionId: string, signal: string, event: TransactionEvent): Promise<Submission> {
    const workflowId = transactionWorkflowId(transactionId);
    try {
      await this.client.workflow.signalWithStart<typeof walletTransaction, [typeof event]>(TRANSACTION_WORKFLOW_TYPE, {
        ...this.startOptions(workflowId, event),
        args: [{ transactionId }],
        signal,
        signalArgs: [event],
      });
      return { kind: 'accepted' };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const description = await this.client.workflow.getHandle(workflowId).describe();
      const status = description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status) as TransactionStatus | undefined;
      return { kind: 'closed', status };
    }
  }

  /**
   * What every execution about a transaction starts with: its id reused only after a run that did
   * not complete, findable while Pending, and described by the event that started it. Described here rather than by the workflow, the
   * description costs no history event and no visibility write of its own.
   */
  private startOptions(workflowId: string, event: TransactionEvent) {
    return {
      workflowId,
      taskQueue: this.taskQueue,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      workflowTaskTimeout: '10s',
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.transactionId, value: event.transactionId },
        ...('type' in event ? [{ key: SEARCH_ATTRIBUTES.transactionType, value: event.type }] : []),
        ...(isCompleted(event) ? [{ key: SEARCH_ATTRIBUTES.userIds, value: partiesOf(event) }] : []),
        { key: SEARCH_ATTRIBUTES.status, value: 'Pending' },
      ],
      memo: { [TRANSACTION_MEMO_KEY]: event },
    };
  }
}

function isCompleted(event: TransactionEvent): event is TransactionCompleted {
  return 'amount' in event;
}
