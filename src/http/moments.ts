import type { Request } from 'express';
import { HttpError } from './http-error';

// Moments in query parameters: ISO-8601, strictly. A date alone is midnight UTC; a date-time must say
// its zone (Z or an offset), since a server's local time would make the same URL mean different moments.

const ISO_MOMENT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;
const DAY_MS = 86_400_000;

/** A query parameter holding one moment; undefined when absent. */
export function momentParameter(req: Request, name: string): Date | undefined {
  const raw = req.query[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new HttpError(400, `${name} must be given once, as a plain value`);
  const moment = parseMoment(raw);
  if (!moment) {
    throw new HttpError(
      400,
      `${name} must be an ISO-8601 date (2026-01-31) or date-time with a zone (2026-01-31T09:30:00Z, or an offset with + written %2B)`,
    );
  }
  return moment;
}

/** The statement's range: both ends given, `from` before `to`, at most `maxDays` long. */
export function statementRange(req: Request, maxDays: number): { from: Date; to: Date } {
  const from = momentParameter(req, 'from');
  const to = momentParameter(req, 'to');
  if (!from || !to) throw new HttpError(400, 'from and to are required (ISO-8601): the statement covers from <= time < to');
  if (to <= from) throw new HttpError(400, 'to must be later than from');
  if (to.getTime() - from.getTime() > maxDays * DAY_MS) throw new HttpError(400, `the range from..to must not exceed ${maxDays} days`);
  return { from, to };
}

function parseMoment(raw: string): Date | undefined {
  const parts = ISO_MOMENT.exec(raw);
  if (!parts) return undefined;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map((part) => Number(part ?? 0));
  // Date accepts 2026-02-30 as March 2nd: the calendar fields must be what they say.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const validDay = calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  if (!validDay || hour > 23 || minute > 59 || second > 59) return undefined;
  const moment = new Date(parts[4] === undefined ? `${raw}T00:00:00Z` : raw);
  return Number.isNaN(moment.getTime()) ? undefined : moment;
}
