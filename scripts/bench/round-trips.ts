// The round trips a phase cost the service, per transfer: database commands by operation and
// collection, and broker messages, read from the service's own /metrics before and after the phase.

/** Each bound of a scrape: the service answers /metrics in milliseconds when idle. */
const SCRAPE_TIMEOUT_MS = 10_000;

/** The counts a round-trip count reads, by the name the report gives them. */
export type RoundTripSample = Record<string, number>;

const SERIES = [
  // One series per (operation, collection): every command the driver sent.
  {
    metric: 'db_query_duration_seconds_count',
    name: (labels: Record<string, string>) => `database: ${labels.operation} ${labels.collection}`,
  },
  { metric: 'wallet_messages_consumed_total', name: (labels: Record<string, string>) => `broker: consumed from ${labels.queue}` },
  { metric: 'wallet_finalizations_published_total', name: () => 'broker: finalization published (confirmed)' },
  { metric: 'wallet_ledger_entry_hint_messages_total', name: () => 'broker: live-update hints message published' },
];

export async function sampleRoundTrips(port: number): Promise<RoundTripSample> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseCounts(await response.text());
}

/** The counters of the exposition text that a round-trip count reads, summed by their name here. */
export function parseCounts(exposition: string): RoundTripSample {
  const sample: RoundTripSample = {};
  for (const line of exposition.split('\n')) {
    const match = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!match) continue;
    const series = SERIES.find((s) => s.metric === match[1]);
    if (!series) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    const name = series.name(labels);
    sample[name] = (sample[name] ?? 0) + Number(match[3]);
  }
  return sample;
}

/** What each series grew by per transfer between two samples; series that did not move are left out. */
export function roundTripsPerTransfer(before: RoundTripSample, after: RoundTripSample, transfers: number): Record<string, number> {
  const grown = Object.keys(after)
    .map((name) => [name, Math.round(((after[name] - (before[name] ?? 0)) / transfers) * 100) / 100] as const)
    .filter(([, perTransfer]) => perTransfer > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  return Object.fromEntries(grown);
}
