// `npm run bench`: end-to-end throughput, latency and memory of the wallet service on the local stack,
// against the ceiling of a no-op ledger and the floor of the ledger's own writes. Not a test.
//   npm run bench -- [--scenario default|full|uniform|hot|rate|noop|bare|described|shapes|floor|long|reconcile|statement|live] [--n N] [--w W] [--rate R]
//                    [--hot-n N] [--floor-n N] [--tracing on] [--rounds R]
// --rounds R (default run): R rounds of its three phases, each round in the reverse order of the one
// before, so that the machine's drift within the run falls on every phase alike; ratios per round.
// --tracing on: the service exports its traces to an OTLP endpoint of the bench's own (span-sink.ts),
// so that the run's figures show what tracing costs per transfer.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { bareSession } from './bare-phase';
import { databaseFloor } from './floor-scenario';
import { readSideMain } from './read-side-report';
import { reconcileMain } from './reconcile-report';
import { cpuTable, roundsSpread, roundTripTable, storeTable, table } from './report';
import { elapsedSeconds, formatDuration, progress, ratio, round, SCENARIO_ENVIRONMENT, writeResults, type Result } from './run';
import { SpanSink } from './span-sink';
import { runSession, type Phase } from './transfer-session';

/**
 * The full run's hot-wallet and database-floor phases: smaller than the uniform phase, whose size
 * (and the ceiling's, the same) the comparison fixes; a rate settles well within 2,000.
 */
const SECONDARY_PHASE_N = 2_000;
/** Transfers per phase of the default run (its three phases fit in 10 minutes on 2 vCPUs). */
const DEFAULT_RUN_N = 2_000;
/** How long the offered-rate phase offers transfers. */
const OFFERED_RATE_SECONDS = 45;
interface Flags {
  scenario: string;
  n?: number;
  w?: number;
  rate?: number;
  hotN?: number;
  floorN?: number;
  tracing?: boolean;
  rounds: number;
}

function parseFlags(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      scenario: { type: 'string', default: 'default' },
      n: { type: 'string' },
      w: { type: 'string' },
      rate: { type: 'string' },
      'hot-n': { type: 'string' },
      'floor-n': { type: 'string' },
      tracing: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const count = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < 1) throw new Error(`--${name} takes a positive whole number, not ${value}`);
    return number;
  };
  if (values.tracing !== undefined && values.tracing !== 'on' && values.tracing !== 'off') throw new Error('--tracing takes on or off');
  return {
    scenario: values.scenario,
    n: count('n', values.n),
    w: count('w', values.w),
    rate: count('rate', values.rate),
    hotN: count('hot-n', values['hot-n']),
    floorN: count('floor-n', values['floor-n']),
    tracing: values.tracing === 'on',
    rounds: count('rounds', values.rounds) ?? 1,
  };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.scenario === 'reconcile') return reconcileMain(flags);
  if (flags.scenario === 'statement' || flags.scenario === 'live') {
    return readSideMain(flags.scenario, flags.n, SCENARIO_ENVIRONMENT, progress, writeResults);
  }
  // The default run's phases are smaller, so that it fits in 10 minutes here; their rates settle well
  // before (the tenths printed show it).
  const n = flags.n ?? (flags.scenario === 'default' ? DEFAULT_RUN_N : 5_000);
  const w = flags.w ?? 1_000;
  const hotN = flags.hotN ?? Math.min(n, SECONDARY_PHASE_N);
  const floorN = flags.floorN ?? Math.min(n, SECONDARY_PHASE_N);
  const halfOfMax = (done: Result[]): Phase => {
    const max = done.find((r) => r.scenario === 'uniform' && r.mode === 'max')?.perSecond ?? 40;
    const rate = flags.rate ?? Math.max(1, Math.round(max / 2));
    return { name: 'uniform', n: Math.min(n, rate * OFFERED_RATE_SECONDS), rate };
  };
  /** The phases `flags.rounds` times, each round in the reverse order of the one before; results carry their round when there are several. */
  const inRounds = async (phases: Array<() => Promise<Result[]>>): Promise<Result[]> => {
    const results: Result[] = [];
    for (let round = 1; round <= flags.rounds; round++) {
      const ordered = round % 2 === 0 ? [...phases].reverse() : phases;
      for (const phase of ordered) results.push(...(await phase()).map((result) => (flags.rounds > 1 ? { ...result, round } : result)));
    }
    return results;
  };
  const sessions: Record<string, () => Promise<Result[]>> = {
    // The headline and its ceilings only (the bare one in the wallet's shape, and in the shape a
    // transfer had before it was processed straight through): more does not fit in 10 minutes on 2 vCPUs.
    default: () =>
      inRounds([
        () => runSession('wallet', w, false, [{ name: 'uniform', n }]),
        () => runSession('noop', w, true, [{ name: 'no-op ledger (ceiling)', n }]),
        async () => [await bareSession(n)],
        async () => [await bareSession(n, 'step by step')],
      ]),
    full: async () => [
      ...(await runSession('wallet', w, false, [{ name: 'uniform', n }, { name: 'hot wallet', n: hotN, hot: true }, halfOfMax])),
      ...(await runSession('noop', w, true, [{ name: 'no-op ledger (ceiling)', n }])),
      await bareSession(n),
      await databaseFloor(floorN, w),
    ],
    uniform: () => runSession('uniform', w, false, [{ name: 'uniform', n }]),
    hot: () => runSession('hot', w, false, [{ name: 'hot wallet', n: flags.hotN ?? n, hot: true }]),
    rate: () => runSession('rate', w, false, [halfOfMax]),
    noop: () => runSession('noop', w, true, [{ name: 'no-op ledger (ceiling)', n }]),
    bare: async () => [await bareSession(n)],
    // Four local activities, and the same carrying the wallet's search attributes and memo: what describing costs the server.
    described: () => inRounds([async () => [await bareSession(n, 'step by step')], async () => [await bareSession(n, 'described')]]),
    // Four local activities, the same with a patch check, with two local activities, and with one (the wallet's shape).
    shapes: () =>
      inRounds([
        async () => [await bareSession(n, 'step by step')],
        async () => [await bareSession(n, 'patched')],
        async () => [await bareSession(n, 'two steps')],
        async () => [await bareSession(n)],
      ]),
    floor: async () => [await databaseFloor(flags.floorN ?? n, w)],
    long: () =>
      runSession('long', w, false, [
        { name: 'uniform', n: 5_000 },
        { name: 'long run', n: flags.n ?? 50_000 },
      ]),
  };
  const run = sessions[flags.scenario];
  if (!run) throw new Error(`unknown scenario ${flags.scenario}; one of ${Object.keys(sessions).join(', ')}`);
  // The service processes inherit the endpoint; the bare phase's worker never traces.
  const spanSink = flags.tracing ? await SpanSink.start() : undefined;
  if (spanSink) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = spanSink.url;
  const results = await run();
  await spanSink?.stop();
  const byName = (name: string) => results.find((r) => r.scenario === name && r.mode === 'max');
  const ratios = {
    walletToNoop:
      byName('uniform') && byName('no-op ledger (ceiling)')
        ? ratio(byName('uniform')!.perSecond, byName('no-op ledger (ceiling)')!.perSecond)
        : undefined,
    walletToBare:
      byName('uniform') && byName('bare Temporal (ceiling)')
        ? ratio(byName('uniform')!.perSecond, byName('bare Temporal (ceiling)')!.perSecond)
        : undefined,
    walletToBareStepByStep:
      byName('uniform') && byName('bare Temporal, step by step')
        ? ratio(byName('uniform')!.perSecond, byName('bare Temporal, step by step')!.perSecond)
        : undefined,
    noopToBare:
      byName('no-op ledger (ceiling)') && byName('bare Temporal (ceiling)')
        ? ratio(byName('no-op ledger (ceiling)')!.perSecond, byName('bare Temporal (ceiling)')!.perSecond)
        : undefined,
    hotToUniform:
      byName('uniform') && byName('hot wallet') ? ratio(byName('hot wallet')!.perSecond, byName('uniform')!.perSecond) : undefined,
    longToUniformPeakRss:
      byName('uniform') && byName('long run') ? ratio(byName('long run')!.peakRssMb!, byName('uniform')!.peakRssMb!) : undefined,
  };
  const byRound = flags.rounds > 1 ? ratiosByRound(results) : undefined;
  const runSeconds = elapsedSeconds();
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const report =
    `${[table(results), cpuTable(results), roundTripTable(results), storeTable(results)].filter(Boolean).join('\n\n')}\n\nwallet/no-op throughput ${ratios.walletToNoop ?? 'n/a'}; wallet/bare ${ratios.walletToBare ?? 'n/a'} (step by step ${ratios.walletToBareStepByStep ?? 'n/a'}); ` +
    `no-op/bare ${ratios.noopToBare ?? 'n/a'}; hot/uniform ${ratios.hotToUniform ?? 'n/a'}` +
    `; long/uniform peak RSS ${ratios.longToUniformPeakRss ?? 'n/a'}\nwhole run ${formatDuration(runSeconds)}; machine: ${machine}\n`;
  const traced = spanSink
    ? `tracing on: ${spanSink.spans} spans received, ${round(
        spanSink.spans /
          Math.max(
            1,
            results.filter((r) => !r.scenario.startsWith('bare Temporal')).reduce((sum, r) => sum + r.transfers, 0),
          ),
      )} per transfer\n`
    : '';
  const tenths = results
    .filter((r) => r.perSecondByTenth?.length)
    .map((r) => `${r.scenario}: tx/s by tenth of the phase ${r.perSecondByTenth!.join(', ')}\n`);
  process.stdout.write(`\n${report}${traced}${byRound?.report ?? ''}${tenths.join('')}`);
  writeResults({ machine, flags, runSeconds, results, ratios, ratiosByRound: byRound?.ratios });
}

/** The ratios a run with rounds reports: name, numerator phase, denominator phase. */
const ROUND_RATIOS = [
  ['wallet/bare', 'uniform', 'bare Temporal (ceiling)'],
  ['wallet/no-op', 'uniform', 'no-op ledger (ceiling)'],
  ['no-op/bare', 'no-op ledger (ceiling)', 'bare Temporal (ceiling)'],
  ['wallet/bare step by step', 'uniform', 'bare Temporal, step by step'],
  ['described/step by step', 'bare Temporal, described', 'bare Temporal, step by step'],
  ['patched/step by step', 'bare Temporal, patched', 'bare Temporal, step by step'],
  ['two steps/step by step', 'bare Temporal, two steps', 'bare Temporal, step by step'],
  ['straight through/step by step', 'bare Temporal (ceiling)', 'bare Temporal, step by step'],
] as const;

/** The ratios of the phases a run had in each round, and their mean and spread over the rounds. */
function ratiosByRound(results: Result[]): { ratios: Record<string, number[]>; report: string } {
  const rounds = [...new Set(results.map((r) => r.round!))];
  const rate = (round: number, scenario: string) => results.find((r) => r.round === round && r.scenario === scenario)?.perSecond;
  const ratios: Record<string, number[]> = {};
  for (const [name, numerator, denominator] of ROUND_RATIOS) {
    const values = rounds.map((k) => [rate(k, numerator), rate(k, denominator)]);
    if (values.every(([a, b]) => a !== undefined && b !== undefined)) ratios[name] = values.map(([a, b]) => ratio(a!, b!));
  }
  const line = ([name, values]: [string, number[]]) => `${name} by round ${values.join(', ')}: ${roundsSpread(values)}\n`;
  return { ratios, report: Object.entries(ratios).map(line).join('') };
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
