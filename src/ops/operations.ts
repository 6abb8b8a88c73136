import { hostname } from 'node:os';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ConfirmChannel, GetMessage } from 'amqplib';
import { reconcile, reconciliationOver } from '../reconciliation/reconciliation';
import type { Ledger } from '../ledger/ledger';
import { publishConfirmed } from '../messaging/publish-confirmed';
import { DEAD_LETTER } from '../messaging/topology';
import type { Stores } from '../stores';
import type { LedgerEntryDocument, VoidedLegDocument } from '../ledger/ledger-entry.model';
import type { TransactionRecordDocument } from '../transaction-record/transaction-records';
import type { ReconciliationReport } from '../domain';
import { settledFor } from '../transaction-record/what-events-change';
import { QUEUES } from '../messaging/topology';
import {
  operatorRetrySignal,
  SEARCH_ATTRIBUTES,
  TRANSACTION_REVERSAL_WORKFLOW_TYPE,
  TRANSACTION_WORKFLOW_TYPE,
  transactionReversalWorkflowId,
  transactionStateQuery,
  transactionWorkflowId,
  type TransactionState,
} from '../../workflows/wallet-transaction/definitions';
import { canonicalObjectId } from '../domain';

// What operators do from the command line (src/ops/cli.ts), as functions the specs call directly.

/** Dead letters handled by one listing or replay, at most. */
export const MAX_DEAD_LETTERS_PER_CALL = 1_000;

export interface OperationsContext {
  client: Client;
  stores: Stores;
  ledger: Pick<Ledger, 'rollProjectionForward'>;
  /** A transfer half-applied and still Pending this long after it opened is reported stalled. */
  stalledAfterMs: number;
  /** A confirm channel on the broker, for the dead-letter commands. */
  channel?: ConfirmChannel;
}

export interface ExecutionReport {
  workflowId: string;
  runId: string;
  status: string;
  searchAttributes: Record<string, unknown>;
  memo: Record<string, unknown> | undefined;
  state: TransactionState;
  pendingActivities: Array<{ activityType: string; attempt: number; lastFailure: string | undefined }>;
}

export interface TransactionReport {
  transactionId: string;
  /** The durable transaction record: its outcomes and legs, whatever Temporal still remembers. */
  record: TransactionRecordDocument | null;
  /** The latest run of the transaction's execution (`wallet-transaction-…`). */
  workflow: ExecutionReport | null;
  /** A `wallet-reversal-…` execution, which rolled transactions back before they were decided once. */
  reversal: ExecutionReport | null;
  ledgerEntries: Array<Pick<LedgerEntryDocument, 'leg' | 'amount' | 'balanceAfter' | 'version'> & { userId: string }>;
  /** Forward legs its Failed decision voided: they can never be applied. */
  voidedLegs: Array<{ leg: string; userId: string }>;
}

/** Everything known of a transaction: its executions, where they stand, its ledger entries. */
export async function showTransaction(ctx: OperationsContext, transactionId: string): Promise<TransactionReport> {
  const [workflow, reversal, record] = await Promise.all([
    describeExecution(ctx, transactionWorkflowId(transactionId)),
    describeExecution(ctx, transactionReversalWorkflowId(transactionId)),
    ctx.stores.records.find(transactionId),
  ]);
  // Read by _id: the legs where their locations say, the voids where the record's parties would have them.
  const [entries, voided] = await Promise.all([
    ctx.stores.ledger.entriesLocatedFor(transactionId),
    Promise.all(forwardLegsOf(record).map(({ userId, leg }) => ctx.stores.ledger.voidedLeg(transactionId, userId, leg))),
  ]);
  entries.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  return {
    transactionId,
    record,
    workflow,
    reversal,
    voidedLegs: voided.filter((v): v is VoidedLegDocument => v !== null).map((v) => ({ leg: v.leg, userId: v.userId.toHexString() })),
    ledgerEntries: entries.map((e) => ({
      leg: e.leg,
      userId: e.userId.toHexString(),
      amount: e.amount,
      balanceAfter: e.balanceAfter,
      version: e.version,
    })),
  };
}

/** Where a transaction's forward legs go, by its record's parties (a transfer's sender first). */
function forwardLegsOf(record: TransactionRecordDocument | null): Array<{ userId: string; leg: 'debit' | 'credit' }> {
  if (record?.type === 'TopUp' && record.userIds.length === 1) return [{ userId: record.userIds[0], leg: 'credit' }];
  if (record?.type === 'Transfer' && record.userIds.length === 2) {
    return [
      { userId: record.userIds[0], leg: 'debit' },
      { userId: record.userIds[1], leg: 'credit' },
    ];
  }
  return [];
}

async function describeExecution(ctx: OperationsContext, workflowId: string): Promise<ExecutionReport | null> {
  const handle = ctx.client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    return {
      workflowId,
      runId: description.runId,
      status: description.status.name,
      searchAttributes: Object.fromEntries(description.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value])),
      memo: description.memo,
      state: await handle.query(transactionStateQuery),
      pendingActivities: (description.raw.pendingActivities ?? []).map((activity) => ({
        activityType: activity.activityType?.name ?? '?',
        attempt: activity.attempt ?? 0,
        lastFailure: activity.lastFailure?.message ?? undefined,
      })),
    };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

export interface StuckExecution {
  workflowId: string;
  /** RUNNING, or how an execution that left its transaction unsettled closed (TERMINATED, FAILED, TIMED_OUT, CANCELLED). */
  executionStatus: string;
  walletStatus: string | undefined;
  startTime: Date;
}

/**
 * Running transactions still Pending after `olderThanMs` or waiting for an operator, and executions
 * that closed without settling theirs (terminated, say): the next event or a reset continues those.
 */
export async function listStuck(ctx: OperationsContext, olderThanMs: number, limit = 100): Promise<StuckExecution[]> {
  const since = new Date(Date.now() - olderThanMs).toISOString();
  const status = SEARCH_ATTRIBUTES.status.name;
  const unsettled = `(${status} = "NeedsOperator" OR ${status} = "Pending")`;
  const query =
    `(WorkflowType = "${TRANSACTION_WORKFLOW_TYPE}" OR WorkflowType = "${TRANSACTION_REVERSAL_WORKFLOW_TYPE}") AND (` +
    `(ExecutionStatus = "Running" AND (${status} = "NeedsOperator" OR (${status} = "Pending" AND StartTime < "${since}"))) OR ` +
    `(ExecutionStatus != "Running" AND ExecutionStatus != "Completed" AND ${unsettled}))`;
  const stuck: StuckExecution[] = [];
  for await (const execution of ctx.client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    stuck.push({
      workflowId: execution.workflowId,
      executionStatus: execution.status.name,
      walletStatus: execution.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status),
      startTime: execution.startTime,
    });
    if (stuck.length >= limit) break;
  }
  return stuck;
}

/** An operator's command that would act on a final transaction without being told to. */
export class FinalTransactionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FinalTransactionError';
  }
}

export interface OperatorOverride {
  /** Go ahead though the transaction record says the transaction is final. */
  force?: boolean;
}

/**
 * Asks the transaction's running execution (a legacy reversal's, if one runs) to run its stuck
 * step again. A transaction decided Failed and announced has nothing left to retry: refused unless forced.
 */
export async function retryTransaction(
  ctx: OperationsContext,
  transactionId: string,
  { force = false }: OperatorOverride = {},
): Promise<string> {
  if (!force && (await settledFor('failed', transactionId, ctx.stores.records, ctx.stores.finalizations))) {
    throw new FinalTransactionError(
      `transaction ${transactionId} is final (Failed): nothing is left to retry and no money would move; pass --force to signal its execution anyway`,
    );
  }
  for (const workflowId of [transactionReversalWorkflowId(transactionId), transactionWorkflowId(transactionId)]) {
    const handle = ctx.client.workflow.getHandle(workflowId);
    const running = await handle.describe().then(
      (description) => description.status.name === 'RUNNING',
      (error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      },
    );
    if (running) {
      await handle.signal(operatorRetrySignal);
      return workflowId;
    }
  }
  throw new Error(`transaction ${transactionId} has no running execution to retry`);
}

/**
 * Resets a transaction's execution to its first workflow task: it runs again from the top and
 * follows the transaction record. A transaction decided and announced is refused unless forced:
 * the new run would only find it so.
 */
export async function resetTransaction(
  ctx: OperationsContext,
  transactionId: string,
  reason: string,
  { force = false }: OperatorOverride = {},
): Promise<string> {
  const status = await ctx.stores.records.statusOf(transactionId);
  if (!force && (await settledFor('completed', transactionId, ctx.stores.records, ctx.stores.finalizations))) {
    throw new FinalTransactionError(
      `transaction ${transactionId} is final (${status}): a reset reruns an execution that finds it decided and announced, so no ` +
        'money moves and nothing is announced; pass --force to reset it anyway',
    );
  }
  const workflowId = transactionWorkflowId(transactionId);
  const handle = ctx.client.workflow.getHandle(workflowId);
  const history = await handle.fetchHistory();
  const firstTask = history.events?.find((event) => event.workflowTaskCompletedEventAttributes);
  if (!firstTask?.eventId) throw new Error(`transaction ${transactionId} has no completed workflow task to reset to`);
  const { runId } = await handle.describe();
  const response = await ctx.client.workflowService.resetWorkflowExecution({
    namespace: ctx.client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason,
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: `reset-${transactionId}-${Date.now()}`,
  });
  return response.runId ?? '';
}

/** Runs a reconciliation pass here (incremental unless `full`); refused while another is running. */
export function reconcileNow(ctx: OperationsContext, { full = false } = {}): Promise<ReconciliationReport> {
  return reconcile(reconciliationOver(ctx.stores, ctx.ledger), {
    owner: `ops:${hostname()}:${process.pid}:${Date.now()}`,
    mode: full ? 'full' : 'incremental',
    stalledAfterMs: ctx.stalledAfterMs,
  });
}

export interface DeadLetterView {
  reason: string;
  queue: string;
  exchange: string;
  routingKey: string;
  deadLetteredAt: string;
  body: string;
}

/** Reads the dead letters without removing them (they are returned to the queue afterwards). */
export async function listDeadLetters(ctx: OperationsContext, limit: number): Promise<DeadLetterView[]> {
  const channel = requireChannel(ctx);
  const taken = await takeDeadLetters(channel, limit);
  const views = taken.map((message) => viewOf(message.properties.headers ?? {}, message.content));
  if (taken.length > 0) {
    channel.nackAll(true);
    // A round trip on the same channel: once it answers, the broker has put them back.
    await channel.checkQueue(DEAD_LETTER.queue);
  }
  return views;
}

export interface ReplayReport {
  replayed: DeadLetterView[];
  /** Dead letters left in the queue, with why. */
  kept: Array<DeadLetterView & { refusal: string }>;
}

/**
 * Publishes dead letters again to where they first came from (once their cause is fixed), each
 * exactly as the platform sent it, and removes them from the dead-letter queue once the broker
 * confirmed the copy. Kept in the queue instead: a letter without its origin, and one about a
 * transaction its record says the wallet would ignore (unless forced).
 */
export async function replayDeadLetters(
  ctx: OperationsContext,
  count: number,
  { force = false }: OperatorOverride = {},
): Promise<ReplayReport> {
  const channel = requireChannel(ctx);
  // Take the first `count` before publishing any: a replay that fails again must not be taken twice.
  const taken = await takeDeadLetters(channel, count);
  const report: ReplayReport = { replayed: [], kept: [] };
  try {
    for (const message of taken) {
      const view = viewOf(message.properties.headers ?? {}, message.content);
      const refusal = await replayRefusal(ctx, view, force);
      if (refusal) {
        channel.nack(message, false, true);
        report.kept.push({ ...view, refusal });
        continue;
      }
      await publishConfirmed(channel, view.exchange, view.routingKey, message.content, {});
      channel.ack(message);
      report.replayed.push(view);
    }
  } catch (error) {
    channel.nackAll(true);
    throw error;
  }
  return report;
}

/** Why a dead letter must stay where it is, or undefined when it may be replayed. */
async function replayRefusal(ctx: OperationsContext, view: DeadLetterView, force: boolean): Promise<string | undefined> {
  // The default exchange with an empty key would route it nowhere, and the ack would lose it.
  if (!view.exchange || !view.routingKey) return 'it carries no original exchange and routing key: there is nowhere to replay it';
  const event = EVENT_OF_QUEUE[view.queue];
  const transactionId = event && transactionIdIn(view.body);
  if (!transactionId || force) return undefined;
  if (!(await settledFor(event, transactionId, ctx.stores.records, ctx.stores.finalizations))) return undefined;
  const status = await ctx.stores.records.statusOf(transactionId);
  return `transaction ${transactionId} is final (${status}): the wallet would ignore it and no money would move; pass --force to publish it anyway`;
}

const EVENT_OF_QUEUE: Record<string, 'completed' | 'failed' | undefined> = {
  [QUEUES.transactionCompleted]: 'completed',
  [QUEUES.transactionFailed]: 'failed',
};

function transactionIdIn(body: string): string | undefined {
  try {
    const id: unknown = (JSON.parse(body) as { transactionId?: unknown } | null)?.transactionId;
    return canonicalObjectId(id);
  } catch {
    return undefined;
  }
}

/** Takes up to `count` dead letters, unacked: the caller acks or returns them. */
async function takeDeadLetters(channel: ConfirmChannel, count: number): Promise<GetMessage[]> {
  const taken: GetMessage[] = [];
  for (let i = 0; i < Math.min(count, MAX_DEAD_LETTERS_PER_CALL); i++) {
    const message = await channel.get(DEAD_LETTER.queue, { noAck: false });
    if (!message) break;
    taken.push(message);
  }
  return taken;
}

function viewOf(headers: Record<string, unknown>, content: Buffer): DeadLetterView {
  const h = DEAD_LETTER.headers;
  return {
    reason: textOf(headers[h.reason]),
    queue: textOf(headers[h.queue]),
    exchange: textOf(headers[h.exchange]),
    routingKey: textOf(headers[h.routingKey]),
    deadLetteredAt: textOf(headers[h.at]),
    body: content.toString('utf8'),
  };
}

/** A header as text: AMQP delivers the wallet's string headers as strings (or buffers, from some clients). */
function textOf(header: unknown): string {
  if (typeof header === 'string') return header;
  return Buffer.isBuffer(header) ? header.toString('utf8') : '';
}

function requireChannel(ctx: OperationsContext): ConfirmChannel {
  if (!ctx.channel) throw new Error('this command needs RabbitMQ');
  return ctx.channel;
}
