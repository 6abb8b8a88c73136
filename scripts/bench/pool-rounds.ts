// npm run bench:pool -- bench-results/a.json bench-results/b.json ... [--ratio wallet/bare]
// One ratio's rounds from several runs of `npm run bench -- --rounds R` (their results files), each
// run's spread and the spread of all the rounds together: the machine's drift makes one run's mean
// uncertain by more than most changes are worth, so a claim about the ratio rests on many rounds.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { roundsSpread } from './report';

/** Runs pooled at once, at most: a results file is a few kilobytes, and a claim needs a handful. */
const MAX_RUNS = 200;

function main(): void {
  const { values, positionals } = parseArgs({ options: { ratio: { type: 'string' } }, allowPositionals: true });
  const name = values.ratio ?? 'wallet/bare';
  if (positionals.length === 0 || positionals.length > MAX_RUNS) {
    throw new Error(`give 1 to ${MAX_RUNS} results files of runs with --rounds`);
  }
  const pooled: number[] = [];
  for (const file of positionals) {
    const rounds = (JSON.parse(readFileSync(file, 'utf8')) as { ratiosByRound?: Record<string, number[]> }).ratiosByRound?.[name];
    if (!rounds?.length) throw new Error(`${file} has no ${name} by round (a run without --rounds, or without that ratio's phases)`);
    pooled.push(...rounds);
    process.stdout.write(`${file}: ${name} ${rounds.join(', ')}: ${roundsSpread(rounds)}\n`);
  }
  process.stdout.write(`all ${positionals.length} runs: ${name} ${roundsSpread(pooled)}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
