// The read-side scenarios' reports: `--scenario statement` (a 100,000-entry statement streamed) and
// `--scenario live` (live-update latency over 1,000 transfers).
import { liveScenario } from './live-scenario';
import type { ScenarioEnvironment } from './service-process';
import { statementScenario } from './statement-scenario';

const LIVE_WALLETS = 10;

export async function readSideMain(
  scenario: 'statement' | 'live',
  n: number | undefined,
  environment: ScenarioEnvironment,
  progress: (message: string) => void,
  writeResults: (content: object) => void,
): Promise<void> {
  if (scenario === 'statement') {
    const result = await statementScenario(environment, n ?? 100_000, progress);
    process.stdout.write(
      `\n| statement | entries | rows | MB | first byte ms | total s | service RSS before MB | service peak RSS MB |\n|---|---|---|---|---|---|---|---|\n` +
        `| CSV, whole range | ${result.entries} | ${result.rows} | ${(result.bytes / 2 ** 20).toFixed(1)} | ${Math.round(result.firstByteMs)} | ` +
        `${result.totalSeconds.toFixed(1)} | ${result.rssBeforeMb.toFixed(1)} | ${result.peakRssMb.toFixed(1)} |\n` +
        `(ledger written in ${result.seedSeconds.toFixed(1)} s)\n`,
    );
    writeResults({ scenario, result });
    return;
  }
  const result = await liveScenario(environment, n ?? 1_000, LIVE_WALLETS, progress);
  const { p50, p95, p99, max } = result.latencyMs;
  process.stdout.write(
    `\n| live updates | transfers | wallets | events | p50 ms | p95 ms | p99 ms | max ms | each stream in order, once |\n|---|---|---|---|---|---|---|---|---|\n` +
      `| entry createdAt → event received | ${result.transfers} | ${result.wallets} | ${result.events} | ${p50} | ${p95} | ${p99} | ${max} | ${result.inOrderOnce ? 'yes' : 'NO'} |\n` +
      `(transfers finalized and delivered in ${result.seconds.toFixed(1)} s)\n`,
  );
  writeResults({ scenario, result });
}
