import type { Connection } from 'mongoose';
import { DEFAULT_FINALIZATION_LOG_RETENTION_HOURS } from './config';
import type { Histogram } from 'prom-client';
import { openConnection } from './database/connection';
import { observeQueries } from './database/query-metrics';
import { FinalizationLog } from './finalization/finalization-log';
import { LedgerStore } from './ledger';
import { ReconciliationStore } from './reconciliation/reconciliation-store';
import { TransactionRecords } from './transaction-record/transaction-records';

/** The service's collections on one connection, each owned by its module. */
export interface Stores {
  connection: Connection;
  ledger: LedgerStore;
  records: TransactionRecords;
  finalizations: FinalizationLog;
  reconciliation: ReconciliationStore;
  close(): Promise<void>;
}

/**
 * Connects and has each owner create its collections and indexes (the unique ones carry correctness).
 * `finalizationLogRetentionHours` is how long the finalization log keeps a delivery; `queryDurations`,
 * when given, times every command.
 */
export async function openStores(
  url: string,
  finalizationLogRetentionHours = DEFAULT_FINALIZATION_LOG_RETENTION_HOURS,
  queryDurations?: Histogram<'operation' | 'collection'>,
): Promise<Stores> {
  const connection = await openConnection(url, { monitorCommands: queryDurations !== undefined });
  if (queryDurations) observeQueries(connection, queryDurations);
  const stores = {
    connection,
    ledger: new LedgerStore(connection),
    records: new TransactionRecords(connection),
    finalizations: new FinalizationLog(connection, finalizationLogRetentionHours * 3_600_000),
    reconciliation: new ReconciliationStore(connection),
    close: () => connection.close(),
  };
  await Promise.all([
    stores.ledger.ensureCollections(),
    stores.records.ensureCollections(),
    stores.finalizations.ensureCollections(),
    stores.reconciliation.ensureCollections(),
  ]);
  return stores;
}
