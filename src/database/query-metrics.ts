import type { Connection, mongo } from 'mongoose';
import type { Histogram } from 'prom-client';

/** Commands timed at once, at most: the driver reports each end, this only bounds a leak if it did not. */
const MAX_IN_FLIGHT = 4_096;
/** Commands whose first field does not name a collection. */
const NO_COLLECTION = new Set(['ping', 'hello', 'isMaster', 'ismaster', 'buildInfo', 'endSessions', 'listCollections', 'getMore']);

/**
 * Times every command the driver sends on this connection (the driver's command monitoring, on for
 * this connection only), by operation and collection. `getMore` is named by the collection it reads.
 */
export function observeQueries(connection: Connection, durations: Histogram<'operation' | 'collection'>): void {
  const collections = new Map<number, string>();
  const client = connection.getClient();
  client.on('commandStarted', (event: mongo.CommandStartedEvent) => {
    if (collections.size >= MAX_IN_FLIGHT) collections.clear();
    collections.set(event.requestId, collectionOf(event));
  });
  const ended = (event: mongo.CommandSucceededEvent | mongo.CommandFailedEvent) => {
    const collection = collections.get(event.requestId) ?? 'none';
    collections.delete(event.requestId);
    // The driver reports -1 when it could not time the command.
    if (event.duration >= 0) durations.observe({ operation: event.commandName, collection }, event.duration / 1000);
  };
  client.on('commandSucceeded', ended);
  client.on('commandFailed', ended);
}

function collectionOf(event: mongo.CommandStartedEvent): string {
  if (event.commandName === 'getMore') {
    const { collection } = event.command as { collection?: unknown };
    return typeof collection === 'string' ? collection : 'none';
  }
  if (NO_COLLECTION.has(event.commandName)) return 'none';
  const named = (event.command as Record<string, unknown>)[event.commandName];
  return typeof named === 'string' ? named : 'none';
}
