import { once } from 'node:events';
import type { Response } from 'express';

/** The client went away (or the response was cut off) while a stream was written to it. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGoneError';
  }
}

/**
 * Writes a chunk and, when the socket's buffer is full, waits until it drains: a slow client holds
 * back the reading behind it instead of filling the process's memory. Rejects once the client is gone
 * or `timeoutMs` passes without the buffer draining.
 */
export async function writeRespectingBackpressure(res: Response, chunk: string, timeoutMs: number): Promise<void> {
  if (res.destroyed || res.writableEnded) throw new ClientGoneError();
  if (res.write(chunk)) return;
  // One signal removes both listeners once either fires (or the time is up): a long stream waits often.
  const waiting = new AbortController();
  const timer = setTimeout(() => waiting.abort(new Error(`the client did not accept data within ${timeoutMs}ms`)), timeoutMs);
  try {
    await Promise.race([
      once(res, 'drain', { signal: waiting.signal }),
      once(res, 'close', { signal: waiting.signal }).then(() => {
        throw new ClientGoneError();
      }),
    ]);
  } catch (error) {
    throw error instanceof ClientGoneError ? error : new Error(`the client did not accept data within ${timeoutMs}ms`, { cause: error });
  } finally {
    clearTimeout(timer);
    waiting.abort();
  }
}
