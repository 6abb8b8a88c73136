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

export /** Documents and BSON bytes each collection grew by per transfer, one row per phase. */
function storeTable(results: Result[]): string {
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
