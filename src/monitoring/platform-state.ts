import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger';
import type { PassOutcome } from '../reconciliation/reconciliation-store';

/** A queue as the broker reports it: messages ready, and consumers across every replica. */
export interface QueueReading {
  queue: string;
  messages: number;
  consumers: number;
}

/** Where each figure of the platform's state is read; each read bounded by its own timeout. */
export interface PlatformStateSources {
  reconciliation(): Promise<PassOutcome | null>;
  /** When the longest-standing transaction the reconciliation has not yet seen final was opened. */
  oldestOpenTransaction(): Promise<Date | null>;
  waitingForOperator(): Promise<number>;
  /** Workflow tasks of new transaction executions waiting for a worker. */
  workflowBacklog(): Promise<number>;
  queues(): Promise<QueueReading[]>;
}

type Source = keyof PlatformStateSources;

/** Scrapes closer together than this share one reading: a scrape never costs the stores more than that. */
export const STATE_REFRESH_MS = 10_000;

/**
 * Gauges of what matters for money that no single process counts: the reconciliation's last result,
 * the oldest transaction not yet seen final, executions waiting for an operator or for a worker, the
 * broker's queues.
 * They are read when Prometheus scrapes (at most once per STATE_REFRESH_MS); a source that cannot be
 * read leaves its gauges empty for that scrape and counts a failure, so that an alert on a figure
 * never fires on a stale one.
 */
export function registerPlatformState(registry: Registry, sources: PlatformStateSources, logger: Logger): void {
  let refreshed: { at: number; done: Promise<void> } | undefined;
  // Every gauge's collect waits for the one refresh of this scrape.
  const collect = () => {
    if (!refreshed || Date.now() - refreshed.at >= STATE_REFRESH_MS) refreshed = { at: Date.now(), done: refresh() };
    return refreshed.done;
  };
  const unlabelled = new Set<Gauge>();
  const gauge = (name: string, help: string, labelNames: string[] = []) => {
    const figure = new Gauge({ name, help, labelNames, registers: [registry], collect });
    if (labelNames.length === 0) unlabelled.add(figure);
    return figure;
  };
  // reset() leaves a gauge without labels at 0, which an alert would read as a figure.
  const empty = (figure: Gauge) => {
    figure.reset();
    if (unlabelled.has(figure)) figure.remove();
  };
  const failures = gauge(
    'wallet_state_read_failures',
    'Sources of the platform-state gauges that could not be read at the last refresh (1 each)',
    ['source'],
  );
  const figures = {
    reconciliationOk: gauge(
      'wallet_reconciliation_last_pass_ok',
      'Whether the latest reconciliation pass that ended found everything in order (1) or not (0)',
    ),
    reconciliationAt: gauge('wallet_reconciliation_last_pass_timestamp_seconds', 'When the latest reconciliation pass ended'),
    reconciliationOkAt: gauge(
      'wallet_reconciliation_last_success_timestamp_seconds',
      'When a reconciliation pass last found everything in order',
    ),
    reconciliationFound: gauge(
      'wallet_reconciliation_problems',
      'What the latest pass reported, by kind: unbalanced transactions, stalled transactions (not final past RECONCILIATION_STALLED_AFTER_MINUTES), drifted wallets',
      ['kind'],
    ),
    oldestOpen: gauge(
      'wallet_oldest_open_transaction_age_seconds',
      'Age of the longest-standing transaction the reconciliation has not yet seen final (0 when none): grows between passes, and for ever for a stuck one',
    ),
    waiting: gauge('wallet_transactions_waiting_for_operator', 'Transaction executions waiting for an operator (NeedsOperator)'),
    workflowBacklog: gauge(
      'wallet_workflow_backlog',
      'New transaction executions waiting for a worker (the bridge holds messages above BRIDGE_MAX_WORKFLOW_BACKLOG)',
    ),
    queueMessages: gauge(
      'wallet_queue_messages',
      'Messages ready in each queue the wallet consumes or feeds, the dead-letter queue included',
      ['queue'],
    ),
    queueConsumers: gauge('wallet_queue_consumers', 'Consumers of each queue, across every replica', ['queue']),
  };
  const reads: { [S in Source]: (value: Awaited<ReturnType<PlatformStateSources[S]>>) => void } = {
    reconciliation: (outcome) => {
      if (!outcome) return;
      figures.reconciliationOk.set(outcome.ok ? 1 : 0);
      figures.reconciliationAt.set(outcome.checkedAt.getTime() / 1000);
      if (outcome.lastOkAt) figures.reconciliationOkAt.set(outcome.lastOkAt.getTime() / 1000);
      figures.reconciliationFound.set({ kind: 'unbalanced' }, outcome.unbalanced);
      figures.reconciliationFound.set({ kind: 'stalled' }, outcome.stalled);
      figures.reconciliationFound.set({ kind: 'drifted' }, outcome.drifted);
    },
    oldestOpenTransaction: (openedAt) => figures.oldestOpen.set(openedAt ? Math.max(0, (Date.now() - openedAt.getTime()) / 1000) : 0),
    waitingForOperator: (count) => figures.waiting.set(count),
    workflowBacklog: (count) => figures.workflowBacklog.set(count),
    queues: (queues) => {
      for (const { queue, messages, consumers } of queues) {
        figures.queueMessages.set({ queue }, messages);
        figures.queueConsumers.set({ queue }, consumers);
      }
    },
  };
  const bySource: Record<Source, Gauge[]> = {
    reconciliation: [figures.reconciliationOk, figures.reconciliationAt, figures.reconciliationOkAt, figures.reconciliationFound],
    oldestOpenTransaction: [figures.oldestOpen],
    waitingForOperator: [figures.waiting],
    workflowBacklog: [figures.workflowBacklog],
    queues: [figures.queueMessages, figures.queueConsumers],
  };

  const refresh = async () => {
    await Promise.all(
      (Object.keys(reads) as Source[]).map(async (source) => {
        try {
          const value = await sources[source]();
          for (const figure of bySource[source]) empty(figure);
          (reads[source] as (value: unknown) => void)(value);
          failures.set({ source }, 0);
        } catch (error) {
          for (const figure of bySource[source]) empty(figure);
          failures.set({ source }, 1);
          logger.warn({ err: error, source }, 'platform state not read');
        }
      }),
    );
  };
}
