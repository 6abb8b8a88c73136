import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { partiesOf, type TransactionCompleted, type TransactionFailed, type TransactionRejected } from '../domain';
import {
  SEARCH_ATTRIBUTES,
  TRANSACTION_MEMO_KEY,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  TRANSACTION_WORKFLOW_TYPE,
  transactionWorkflowId,
} from '../../workflows/wallet-transaction/definitions';
import type { TransactionEventSink } from '../messaging/message-router';
import type { walletTransaction } from '../../workflows/wallet-transaction/workflow';

type TransactionEvent = TransactionCompleted | TransactionFailed | TransactionRejected;

/**
 * How long a workflow task of a transaction may stay unanswered before Temporal hands it out again.
 * Temporal can record a task as started yet never deliver it to the worker that polled it (most
 * likely an ambiguous timeout between its own services under load, temporalio/temporal#11733): one
 * task in about 2,000 at full load here, and that transaction then waits this long. Answering a
 * task took at most 2.1 s in 43,000 at full load here (its local activity included), and the worker
 * heartbeats a task whose local activity runs past four fifths of this, so five seconds leaves room
 * for both.
 */
const TRANSACTION_TASK_TIMEOUT = '5s';

/**
 * Hands transaction events to their workflow: every event of a transaction goes to the one
 * execution whose id derives from its transactionId (signal-with-start). An execution that has
 * closed, however it closed, is replaced by a new run: every run follows the transaction record, so
 * a new run of a settled transaction only announces what was decided, if that never went out, and
 * one of an unsettled transaction finishes it. The router starts nothing for an event the record
 * makes moot.
 */
export class TransactionWorkflows implements TransactionEventSink {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** How long each step of a transaction started here retries by itself (see TransactionWorkflowInput). */
    private readonly stepTimeoutMs: number,
  ) {}

  submitCompleted(event: TransactionCompleted): Promise<void> {
    return this.submit(event.transactionId, transactionCompletedSignal.name, event);
  }

  submitFailed(event: TransactionFailed): Promise<void> {
    return this.submit(event.transactionId, transactionFailedSignal.name, event);
  }

  /** A refused `transaction.completed`: the transaction ends Failed with why, unless it has terms already. */
  submitRejected(rejection: TransactionRejected): Promise<void> {
    return this.submit(rejection.transactionId, transactionRejectedSignal.name, rejection);
  }

  /**
   * Delivers the event to the transaction's execution, starting one if none runs. Described here
   * (search attributes and memo) rather than by the workflow, the description costs no history
   * event and no visibility write of its own.
   */
  private async submit(transactionId: string, signal: string, event: TransactionEvent): Promise<void> {
    await this.client.workflow.signalWithStart<typeof walletTransaction, [typeof event]>(TRANSACTION_WORKFLOW_TYPE, {
      workflowId: transactionWorkflowId(transactionId),
      taskQueue: this.taskQueue,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      workflowTaskTimeout: TRANSACTION_TASK_TIMEOUT,
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.transactionId, value: event.transactionId },
        ...('type' in event && event.type ? [{ key: SEARCH_ATTRIBUTES.transactionType, value: event.type }] : []),
        ...(isCompleted(event) ? [{ key: SEARCH_ATTRIBUTES.userIds, value: partiesOf(event) }] : []),
        { key: SEARCH_ATTRIBUTES.status, value: 'Pending' },
      ],
      memo: { [TRANSACTION_MEMO_KEY]: event },
      args: [{ transactionId, stepTimeoutMs: this.stepTimeoutMs }],
      signal,
      signalArgs: [event],
    });
  }
}

function isCompleted(event: TransactionEvent): event is TransactionCompleted {
  return 'amount' in event;
}
