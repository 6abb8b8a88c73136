import type { Request } from 'express';
import { z } from 'zod';
import { LEGS, TRANSACTION_TYPES } from '../domain';
import { HttpError } from './errors';

// The API's shapes, once: the query schemas check requests, and the OpenAPI document is generated
// from these same schemas (openapi.ts), so what is documented is what is enforced. The formats of
// the query's values (moments, history cursors) close the file.

export const HISTORY_PAGE = { defaultLimit: 20, maxLimit: 100 } as const;
const CURSOR_MAX_LENGTH = 64;

// ---- requests ------------------------------------------------------------------------------------

/** Parses a route's query by its schema; the first problem found is the 400's message. */
export function queryOf<Shape extends z.ZodRawShape>(req: Request, schema: z.ZodObject<Shape>): z.output<z.ZodObject<Shape>> {
  for (const name of Object.keys(schema.shape)) {
    const value = req.query[name];
    if (value !== undefined && typeof value !== 'string') throw new HttpError(400, `${name} must be given once, as a plain value`);
  }
  return checked(schema, req.query);
}

/** A request's value parsed by its schema; the first problem found is the 400's message. */
export function checked<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, parsed.error.issues[0].message);
  return parsed.data;
}

/** A string parsed by `parse`, which answers undefined for what is not one: then `message` is the problem. */
function parsedBy<T>(parse: (raw: string) => T | undefined, message: string) {
  return (raw: string, context: z.core.$RefinementCtx<string>): T => {
    const value = parse(raw);
    if (value !== undefined) return value;
    context.issues.push({ code: 'custom', input: raw, message });
    return z.NEVER;
  };
}

const MOMENT_FORMS = 'an ISO-8601 date (2026-01-31) or date-time with a zone (2026-01-31T09:30:00Z, or an offset with + written %2B)';

/**
 * A query parameter holding one moment, parsed to a Date. Entries are stamped to the millisecond: a
 * moment finer than that is taken to the millisecond that keeps its meaning, rounded up where
 * entries must be at or after it, or before it (`from <= t`, `t < to`), down where they must be at
 * or before it (`t <= at`).
 */
function moment(name: string, rounding: 'up' | 'down', description: string, whenMissing?: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined && whenMissing ? whenMissing : `${name} must be ${MOMENT_FORMS}`) })
    .transform(parsedBy((raw: string) => parseMoment(raw, rounding === 'up'), `${name} must be ${MOMENT_FORMS}`))
    .meta({ type: 'string', description: `${description}: ${MOMENT_FORMS}; a date alone is midnight UTC` });
}

const limitMessage = `limit must be an integer from 1 to ${HISTORY_PAGE.maxLimit}`;

export const historyQuery = z.object({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, { error: limitMessage })
    .transform(Number)
    .pipe(z.int().min(1, { error: limitMessage }).max(HISTORY_PAGE.maxLimit, { error: limitMessage }))
    .default(HISTORY_PAGE.defaultLimit)
    .meta({ description: 'Entries per page' }),
  cursor: z
    .string()
    .transform(parsedBy(decodeCursor, 'cursor is invalid; pass back the nextCursor of a previous page'))
    .optional()
    .meta({ type: 'string', maxLength: CURSOR_MAX_LENGTH, description: 'The nextCursor of the previous page' }),
});

export const balanceQuery = z.object({
  at: moment('at', 'down', 'The moment; without it, the current balance').optional(),
});

const rangeRequired = 'from and to are required (ISO-8601): the statement covers from <= time < to';

export const statementQuery = z.object({
  from: moment('from', 'up', 'Inclusive', rangeRequired),
  to: moment('to', 'up', 'Exclusive', rangeRequired),
  format: z.enum(['json', 'csv'], { error: 'format must be json or csv, given once' }).default('json'),
});

export const liveUpdatesQuery = z.object({
  lastEventId: z
    .string()
    .regex(/^\s*\d{1,15}\s*$/, {
      error: 'Last-Event-ID (or lastEventId) must be a version of the wallet: a whole number, given once',
    })
    .transform(Number)
    .optional()
    .meta({ type: 'string', pattern: '^[0-9]+$', description: 'Resume after this version (for clients that cannot set headers)' }),
});

// ---- responses -----------------------------------------------------------------------------------

const objectId = z.string().regex(/^[0-9a-f]{24}$/);
const timestamp = z.string().meta({ format: 'date-time' });
const chainHash = z.string().regex(/^[0-9a-f]{64}$/);
const amount = z.int();
const balance = z.int().min(0);

const ErrorResponse = z.object({ error: z.object({ message: z.string(), status: z.int().min(400).max(599) }) });

const Wallet = z.object({
  id: objectId,
  userId: objectId,
  balance: balance.meta({ description: 'Minor units' }),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const ledgerEntryFields = {
  transactionId: objectId.nullable().meta({ description: 'null for the opening balance' }),
  type: z.enum(TRANSACTION_TYPES).nullable(),
  leg: z.enum(LEGS),
  amount: amount.meta({ description: 'Signed: negative takes money out of the wallet' }),
  balanceAfter: balance,
  version: z.int().min(1).meta({ description: 'The wallet version this entry produced (1, 2, 3, …)' }),
  counterpartyUserId: objectId.nullable(),
  createdAt: timestamp,
};

const LedgerEntry = z.object(ledgerEntryFields);

const LedgerPage = z.object({
  items: z.array(LedgerEntry).max(HISTORY_PAGE.maxLimit),
  nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next (older) page; null on the last page' }),
});

const BalanceAt = z.object({
  userId: objectId,
  balance: balance.meta({ description: 'The balanceAfter of the last entry at or before `at`; 0 before the first' }),
  version: z.int().min(0).meta({ description: 'The version of that entry; 0 before the first' }),
  at: timestamp,
});

const BalancePosition = z.object({
  balance,
  version: z.int().min(0),
  hash: chainHash.nullable().meta({
    description:
      'The chain hash of the entry at `version` (64 zeros before the first). The closing one is the chain head the statement ' +
      'covers: `npm run ops -- verify --user <id> --head <version>:<hash>` checks the ledger still holds it. null for an ' +
      'entry written before entries were chained.',
  }),
});

const StatementEntry = z.object({
  ...ledgerEntryFields,
  hash: chainHash.nullable().meta({ description: "SHA-256 over the entry's fields and the previous entry's hash" }),
});

const Statement = z
  .object({
    userId: objectId,
    from: timestamp,
    to: timestamp,
    opening: BalancePosition.meta({ description: 'After the last entry before `from`' }),
    entries: z.array(StatementEntry),
    totals: z.object({
      credits: z.int().min(0).meta({ description: 'Sum of the positive amounts' }),
      debits: z.int().max(0).meta({ description: 'Sum of the negative amounts (negative)' }),
      entries: z.int().min(0),
    }),
    closing: BalancePosition.meta({ description: 'After the last entry before `to`' }),
  })
  .meta({
    description:
      'Streamed in this order: what is known first, the entries oldest first, the totals and closing balance last. ' +
      'opening.balance + totals.credits + totals.debits = closing.balance, checked as it is written; a ledger found ' +
      'inconsistent while streaming cuts the response off rather than finish it.',
  });

const Health = z.object({ status: z.literal('ok') });

const Readiness = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z
    .object({ mongodb: z.string(), rabbitmq: z.string(), temporal: z.string() })
    .catchall(z.enum(['up', 'down']))
    .meta({ description: 'Each dependency, then one `consumer <queue>` per queue the wallet consumes: down once missing for 10 s' }),
});

/** The response bodies, by the name the OpenAPI document gives them. */
export const responseSchemas = {
  Error: ErrorResponse,
  Wallet,
  LedgerEntry,
  LedgerPage,
  BalanceAt,
  BalancePosition,
  StatementEntry,
  Statement,
  Health,
  Readiness,
};

// ---- query values ---------------------------------------------------------------------------------

// Moments in query parameters: ISO-8601, strictly. A date alone is midnight UTC; a date-time must say
// its zone (Z or an offset), since a server's local time would make the same URL mean different moments.

const ISO_MOMENT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;
const DAY_MS = 86_400_000;

/** The statement's range: `from` before `to`, at most `maxDays` long. */
export function checkStatementRange(range: { from: Date; to: Date }, maxDays: number): { from: Date; to: Date } {
  if (range.to <= range.from) throw new HttpError(400, 'to must be later than from');
  if (range.to.getTime() - range.from.getTime() > maxDays * DAY_MS) {
    throw new HttpError(400, `the range from..to must not exceed ${maxDays} days`);
  }
  return range;
}

/** One moment, or undefined when `raw` is not one of the accepted forms; `roundUp` past a sub-millisecond fraction. */
function parseMoment(raw: string, roundUp: boolean): Date | undefined {
  const parts = ISO_MOMENT.exec(raw);
  if (!parts) return undefined;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map((part) => Number(part ?? 0));
  // Date accepts 2026-02-30 as March 2nd: the calendar fields must be what they say.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const validDay = calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  if (!validDay || hour > 23 || minute > 59 || second > 59) return undefined;
  const moment = new Date(parts[4] === undefined ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(moment.getTime())) return undefined;
  // Date keeps the first three digits of the fraction and drops the rest.
  const finerThanMillisecond = /[1-9]/.test(parts[7]?.slice(3) ?? '');
  return roundUp && finerThanMillisecond ? new Date(moment.getTime() + 1) : moment;
}

// An opaque pagination cursor: where the next (older) page of a wallet's history starts. Versions of
// one wallet never change, so pages stay stable while new entries arrive on top.

export function encodeCursor(beforeVersion: number): string {
  return Buffer.from(JSON.stringify({ v: beforeVersion })).toString('base64url');
}

/** The version a cursor starts before, or undefined when it is not a cursor this service gave out. */
function decodeCursor(cursor: string): number | undefined {
  if (cursor.length > CURSOR_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const version = (decoded as { v?: unknown } | null)?.v;
  return typeof version === 'number' && Number.isSafeInteger(version) && version >= 2 ? version : undefined;
}
