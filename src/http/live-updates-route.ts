import type { Express, Request, RequestHandler, Response } from 'express';
import type { WalletConfig } from '../config';
import type { HistoryEntry, WalletReader } from '../ledger';
import type { EntrySink } from '../live-updates/entry-follower';
import { LiveUpdatesFullError, type LiveEntryHub } from '../live-updates/live-entry-hub';
import { checked, liveUpdatesQuery, queryOf } from './api-schemas';
import { HttpError, ServiceStartingError } from './errors';
import { writeRespectingBackpressure } from './response-stream';

export type LiveUpdateReads = Pick<WalletReader, 'feedPosition'>;

/**
 * `GET /api/v1/wallet/user/events`: Server-Sent Events, one `entry` event per ledger entry of the
 * caller's wallet, its id the entry's version. A new connection starts with the latest entry (the
 * current balance); one that sends `Last-Event-ID` (browsers do when they reconnect) or
 * `?lastEventId=` gets every entry after that version first, in order, then the live ones.
 */
export function registerLiveUpdatesRoute(
  app: Express,
  reads: LiveUpdateReads,
  hub: LiveEntryHub,
  authenticate: RequestHandler,
  config: WalletConfig['liveUpdates'],
): void {
  app.get('/api/v1/wallet/user/events', authenticate, async (req, res) => {
    const userId = res.locals.userId!;
    if (hub.closing) return retryLater(res, config.retryMs);
    unavailableAs503(() => hub.checkRoom(userId));
    const after = lastEventIdOf(req);
    const position = await unlessStarting(() => reads.feedPosition(userId, after));
    if (position === STARTING) return retryLater(res, config.retryMs);
    if (position === undefined) throw new HttpError(404, 'Wallet not found');
    if (position === null) throw new HttpError(400, `Last-Event-ID ${after} is not a version of this wallet's ledger`);
    const follower = unavailableAs503(() => hub.follow(userId, position, new ServerSentEvents(res, config.sendTimeoutSeconds * 1000)));
    openStream(res, config.retryMs);
    // A stream is allowed for as long as the token it was opened with: the browser then reconnects,
    // with the token it holds by then, and resumes by Last-Event-ID.
    const tokenExpiry = setTimeout(() => follower.stop(), Math.min(res.locals.tokenExpiresAt!.getTime() - Date.now(), MAX_TIMER_MS));
    res.on('close', () => {
      clearTimeout(tokenExpiry);
      follower.stop();
    });
    follower.start();
  });
}

/** The longest delay setTimeout keeps (about 24.8 days); a token valid longer ends its stream then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const STARTING = Symbol('service starting');

/**
 * A browser's EventSource gives up for good on an error status: a replica shutting down or still
 * starting answers an empty stream instead, which makes it reconnect after `retry`, to any replica.
 */
function retryLater(res: Response, retryMs: number): void {
  openStream(res, retryMs);
  res.end();
}

async function unlessStarting<T>(read: () => Promise<T>): Promise<T | typeof STARTING> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ServiceStartingError) return STARTING;
    throw error;
  }
}

function openStream(res: Response, retryMs: number): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // Proxies that buffer responses (nginx) would hold the events back.
    'X-Accel-Buffering': 'no',
  });
  res.write(`retry: ${retryMs}\n\n`);
}

/** The SSE wire format on an HTTP response, written with backpressure. */
class ServerSentEvents implements EntrySink {
  constructor(
    private readonly res: Response,
    private readonly sendTimeoutMs: number,
  ) {}

  entry(entry: HistoryEntry): Promise<void> {
    return writeRespectingBackpressure(
      this.res,
      `event: entry\nid: ${entry.version}\ndata: ${JSON.stringify(entry)}\n\n`,
      this.sendTimeoutMs,
    );
  }

  heartbeat(): Promise<void> {
    return writeRespectingBackpressure(this.res, ': heartbeat\n\n', this.sendTimeoutMs);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}

/** The version a reconnecting client last received, from the header its browser sends or the query. */
function lastEventIdOf(req: Request): number | undefined {
  const header = req.headers['last-event-id'];
  if (header === undefined) return queryOf(req, liveUpdatesQuery).lastEventId;
  return checked(liveUpdatesQuery.shape.lastEventId, header);
}

function unavailableAs503<T>(attempt: () => T): T {
  try {
    return attempt();
  } catch (error) {
    if (error instanceof LiveUpdatesFullError) throw new HttpError(503, error.message);
    throw error;
  }
}
