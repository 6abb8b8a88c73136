// `--scenario reconcile`: its own report, not a transfer rate.
import { reconcileScenario } from './reconcile-scenario';
import { elapsedSeconds, formatDuration, progress, round, SCENARIO_ENVIRONMENT, writeResults } from './run';

export async function reconcileMain(flags: { n?: number; w?: number }): Promise<void> {
  const result = await reconcileScenario(SCENARIO_ENVIRONMENT, flags.n ?? 2_000_000, flags.w ?? 2_000, progress);
  const verdict = (report: { ok: boolean; drift: unknown[]; unbalanced: unknown[]; stalled: unknown[] }) =>
    report.ok
      ? 'ok'
      : `drift in ${report.drift.length} wallet(s), ${report.unbalanced.length} unbalanced, ${report.stalled.length} stalled`;
  const { full, incremental, planted, merchant, rollback } = result;
  const report = [
    `ledger: ${result.entries} entries over ${result.wallets} wallets (one merchant of ~${result.merchantEntries}), written in ${round(result.seedSeconds)} s`,
    '',
    '| pass | entries walked | seconds | entries/s | peak RSS MB | report | as expected |',
    '|---|---|---|---|---|---|---|',
    `| first (full), during ${full.liveTransfers} live transfers | ${full.report.entries} | ${round(full.seconds)} | ${round(full.report.entries / full.seconds)} | ${round(full.peakRssMb)} | ${verdict(full.report)} | ${full.report.ok ? 'yes: no false drift' : 'NO: false drift'} |`,
    `| incremental, after ${incremental.transfers} transfers | ${incremental.report.entries} | ${round(incremental.seconds)} | ${round(incremental.report.entries / incremental.seconds)} | ${round(incremental.peakRssMb)} | ${verdict(incremental.report)} | ${incremental.report.ok ? `yes: seconds per entry ${round(incremental.secondsPerEntryRatio)}x the full pass's` : 'NO'} |`,
    `| incremental, with a drift and a stuck top-up planted | ${planted.report.entries} | ${round(planted.seconds)} | | ${round(planted.peakRssMb)} | ${verdict(planted.report)} | ${planted.driftFound && planted.stuckTopUpFound ? 'yes: both found and named' : 'NO: one was missed'} |`,
    `| ops verify of the wallet with a tampered entry | ${planted.tampered.entries} | ${round(planted.tampered.seconds)} | | | ${planted.tampered.broken.map((b) => b.problem).join('; ')} | ${planted.tampered.named ? 'yes: the entry is named' : 'NO'} |`,
    `| the scheduled workflow over a wallet of ${result.merchantEntries} entries | ${merchant.entries} | ${round(merchant.seconds)} | ${round(merchant.entries / merchant.seconds)} | | ${verdict(merchant.report)} | ${merchant.report.ok ? 'yes' : 'NO'} |`,
    '',
    '| rollback (find the leg by _id, undo it) | ledger entries | p50 ms | p95 ms |',
    '|---|---|---|---|',
    `| small ledger | ${rollback.small.entries} | ${rollback.small.p50} | ${rollback.small.p95} |`,
    `| large ledger | ${rollback.large.entries} | ${rollback.large.p50} | ${rollback.large.p95} |`,
  ].join('\n');
  process.stdout.write(`\n${report}\nwhole run ${formatDuration(elapsedSeconds())}\n`);
  writeResults({ flags, result });
}
