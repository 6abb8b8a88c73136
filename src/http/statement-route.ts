import type { Express, RequestHandler, Response } from 'express';
import type { WalletConfig } from '../config';
import type { WalletStatement, WalletReader } from '../ledger';
import { HttpError } from './errors';
import { StatementSlots } from './statement-slots';
import { checkStatementRange, queryOf, statementQuery } from './api-schemas';
import { ClientGoneError, writeRespectingBackpressure } from './response-stream';
import { CSV_HEADER, csvRows, jsonEntries, jsonStatementHead, jsonStatementTail, statementFileName } from './statement-formats';

export type StatementReads = Pick<WalletReader, 'statementOf'>;

type StatementFormat = 'json' | 'csv';

/**
 * `GET /api/v1/wallet/user/statement`: the caller's entries in a range, streamed batch by batch as
 * JSON or CSV. The first batch is read (and checked) before anything is sent, so a ledger found broken
 * there is a plain 500; one found broken later cuts the response off, so no wrong total is ever sent.
 */
export function registerStatementRoute(
  app: Express,
  reads: StatementReads,
  authenticate: RequestHandler,
  config: WalletConfig['statement'],
): void {
  const slots = new StatementSlots({ total: config.maxConcurrent, perUser: config.maxConcurrentPerUser });
  app.get('/api/v1/wallet/user/statement', authenticate, async (req, res) => {
    const { format, ...requested } = queryOf(req, statementQuery);
    const range = checkStatementRange(requested, config.maxRangeDays);
    const userId = res.locals.userId!;
    const release = slots.take(userId);
    try {
      const statement = await reads.statementOf(userId, range, config);
      if (!statement) throw new HttpError(404, 'Wallet not found');
      await streamStatement(res, statement, format, config.timeoutSeconds * 1000);
    } catch (error) {
      if (!(error instanceof ClientGoneError)) throw error;
    } finally {
      release();
    }
  });
}

async function streamStatement(res: Response, statement: WalletStatement, format: StatementFormat, timeoutMs: number): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const batches = statement.batches();
  let batch = await batches.next();
  const write = (chunk: string) => writeRespectingBackpressure(res, chunk, timeoutMs);
  startResponse(res, statement, format);
  await write(format === 'csv' ? `${CSV_HEADER}\r\n` : jsonStatementHead(statement.userId, statement.range, statement.opening));
  for (let first = true; !batch.done; first = false) {
    if (deadline.aborted) throw new Error(`statement still streaming after ${timeoutMs}ms; cut off`);
    await write(format === 'csv' ? csvRows(batch.value) : jsonEntries(batch.value, first));
    batch = await batches.next();
  }
  const { totals, ...closing } = statement.closing;
  if (format === 'json') await write(jsonStatementTail(totals, closing));
  res.end();
}

function startResponse(res: Response, statement: WalletStatement, format: StatementFormat): void {
  if (format === 'csv') {
    res.type('text/csv; charset=utf-8');
    res.attachment(statementFileName(statement.range));
  } else {
    res.type('application/json; charset=utf-8');
  }
  res.status(200);
}
