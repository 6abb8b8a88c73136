import { HttpError } from './http-error';

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

/** One moment, or undefined when `raw` is not one of the accepted forms. */
export function parseMoment(raw: string): Date | undefined {
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
