import type { BalancePosition, StatementEntry, StatementTotals } from '../ledger';

// How a statement is written, a piece at a time: neither format needs the whole statement in hand.

/** Each row ends with its entry's chain hash: the last row's is the chain head the statement covers. */
export const CSV_HEADER = 'time,transactionId,type,leg,amount,balanceAfter,counterpartyUserId,version,hash';

/** RFC 4180: CRLF line ends; a field with a comma, quote or line break is quoted, its quotes doubled. */
export function csvRows(entries: StatementEntry[]): string {
  return entries
    .map((e) =>
      [e.createdAt.toISOString(), e.transactionId, e.type, e.leg, e.amount, e.balanceAfter, e.counterpartyUserId, e.version, e.hash]
        .map(csvField)
        .join(','),
    )
    .map((row) => `${row}\r\n`)
    .join('');
}

function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The JSON statement opens with what is known before the entries, and closes with the totals. */
export function jsonStatementHead(userId: string, range: { from: Date; to: Date }, opening: BalancePosition): string {
  const head = JSON.stringify({ userId, from: range.from, to: range.to, opening });
  return `${head.slice(0, -1)},"entries":[`;
}

/** A batch of entries inside the JSON array, `first` telling whether one was written before it. */
export function jsonEntries(entries: StatementEntry[], first: boolean): string {
  const items = entries.map((entry) => JSON.stringify(entry)).join(',');
  return first || items === '' ? items : `,${items}`;
}

export function jsonStatementTail(totals: StatementTotals, closing: BalancePosition): string {
  return `],"totals":${JSON.stringify(totals)},"closing":${JSON.stringify(closing)}}`;
}

export function statementFileName(range: { from: Date; to: Date }): string {
  return `wallet-statement-${range.from.toISOString()}-${range.to.toISOString()}.csv`;
}
