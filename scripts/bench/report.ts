// The bench's tables, as Markdown for docs/performance.md.
import type { Result } from './run';

/** A phase's name in the tables, with its round where the run had several. */
const label = (r: Result) => (r.round ? `${r.scenario}, round ${r.round}` : r.scenario);

export function table(results: Result[]): string {
  const header = '| scenario | mode | transfers | wallets | tx/s | p50 ms | p95 ms | p99 ms | max ms | peak RSS MB | check |';
  const rows = results.map(
    (r) =>
      `| ${label(r)} | ${r.mode} | ${r.transfers} | ${r.wallets} | ${r.perSecond} | ${r.latencyMs?.p50 ?? ''} | ${r.latencyMs?.p95 ?? ''} | ${r.latencyMs?.p99 ?? ''} | ${r.latencyMs?.max ?? ''} | ${r.peakRssMb ?? ''} | ${r.correct ?? ''} |`,
  );
  return [header, '|---|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

/**
 * CPU-ms per transfer by process, one row per phase, and the service's (or the bare worker's) over
 * the Temporal server's: the machine's speed, which drifts by more than most changes within an hour,
 * moves both, so a change to the service alone shows in that quotient when the rates show the machine.
 */
export function cpuTable(results: Result[]): string {
  const measured = results.filter((r) => r.cpuMsPerTransfer);
  const names = [...new Set(measured.flatMap((r) => Object.keys(r.cpuMsPerTransfer!)))];
  const perServer = ({ service, worker, temporal }: Record<string, number>) => {
    const own = service ?? worker;
    return own !== undefined && temporal ? (own / temporal).toFixed(2) : '';
  };
  const header = `| CPU ms per transfer | ${names.join(' | ')} | service or worker / temporal |`;
  const rows = measured.map(
    (r) => `| ${label(r)} | ${names.map((name) => r.cpuMsPerTransfer![name] ?? '').join(' | ')} | ${perServer(r.cpuMsPerTransfer!)} |`,
  );
  return [header, `|---|${names.map(() => '---|').join('')}---|`, ...rows].join('\n');
}

/** Documents and BSON bytes each collection grew by per transfer, one row per phase. */
export function storeTable(results: Result[]): string {
  const measured = results.filter((r) => r.storeGrowth);
  if (measured.length === 0) return '';
  const names = [...new Set(measured.flatMap((r) => Object.keys(r.storeGrowth!)))].sort();
  const header = `| per transfer: documents / bytes | ${names.join(' | ')} |`;
  const cell = (growth: Result['storeGrowth'], name: string) =>
    growth![name] ? `${growth![name].documents} / ${growth![name].bytes}` : '';
  const rows = measured.map((r) => `| ${label(r)} | ${names.map((name) => cell(r.storeGrowth, name)).join(' | ')} |`);
  return [header, `|---|${names.map(() => '---|').join('')}`, ...rows].join('\n');
}

/** The service's round trips per transfer (database commands, broker messages), one column per phase. */
export function roundTripTable(results: Result[]): string {
  const measured = results.filter((r) => r.roundTripsPerTransfer);
  if (measured.length === 0) return '';
  const names = [...new Set(measured.flatMap((r) => Object.keys(r.roundTripsPerTransfer!)))].sort();
  const header = `| round trips per transfer | ${measured.map(label).join(' | ')} |`;
  const rows = names.map((name) => `| ${name} | ${measured.map((r) => r.roundTripsPerTransfer![name] ?? '').join(' | ')} |`);
  return [header, `|---|${measured.map(() => '---|').join('')}`, ...rows].join('\n');
}

/** Two-sided 95% quantiles of Student's t by degrees of freedom (1 to 30); past 30, the one at 30, which errs wide. */
const T_95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * A ratio measured once a round: its mean, the rounds' standard deviation, and the half-width of the
 * mean's 95% interval. The rounds differ by the machine's drift far more than by sampling within a
 * phase, so the interval says how many rounds a claim about the mean needs.
 */
export function roundsSpread(values: readonly number[]): string {
  const n = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  const range = `from ${Math.min(...values)} to ${Math.max(...values)}`;
  if (n < 2) return `mean ${mean.toFixed(2)} (one round: no spread), ${range}`;
  const sd = Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1));
  const halfWidth = T_95[Math.min(n - 1, T_95.length) - 1] * (sd / Math.sqrt(n));
  return `mean ${mean.toFixed(2)} ± ${halfWidth.toFixed(2)} (95%, ${n} rounds), standard deviation ${sd.toFixed(2)}, ${range}`;
}
