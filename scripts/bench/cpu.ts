// CPU time of the processes a benchmark phase runs on, read from /proc: how many CPU-milliseconds
// each spends per transfer. The servers are found by their command lines, wherever they were started.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

// The Temporal dev server, or under STACK_TEMPORAL=postgres the Temporal server and its PostgreSQL
// (the postmaster by its binary, its backends by the cluster name in their process titles).
const SERVERS: Record<string, (cmdline: string) => boolean> = {
  temporal: (cmd) => (/temporal/.test(cmd) && cmd.includes('start-dev')) || /\/temporal-server .*\bstart\b/.test(cmd),
  postgres: (cmd) => /\/postgresql\/\d+\/bin\/postgres /.test(cmd) || cmd.startsWith('postgres: wallet-'),
  ferretdb: (cmd) => /\/ferretdb\b/.test(cmd),
  rabbitmq: (cmd) => cmd.includes('beam.smp') && cmd.includes('rabbit'),
};

export type CpuSample = Record<string, number>;

/** CPU-ms used so far by the stack's servers, `extra` named processes, and this process (the load generator). */
export function sampleCpu(extra: Record<string, number | undefined>): CpuSample {
  const sample: CpuSample = {};
  for (const [name, pid] of Object.entries(extra)) if (pid !== undefined) sample[name] = cpuMsOf(pid);
  for (const pid of pids()) {
    const cmdline = readOr(`/proc/${pid}/cmdline`).replace(/\0/g, ' ');
    for (const [name, matches] of Object.entries(SERVERS)) if (matches(cmdline)) sample[name] = (sample[name] ?? 0) + cpuMsOf(pid);
  }
  const own = process.cpuUsage();
  sample['load generator'] = (own.user + own.system) / 1000;
  return sample;
}

/**
 * The stack's servers together count as quiet below this many CPU-ms a second (idle, the Temporal dev
 * server takes about 20 and RabbitMQ 3; under a phase, they take 1,000 and more).
 */
const QUIET_MS_PER_SECOND = 100;
/** How many one-second windows in a row they must stay quiet. */
const QUIET_WINDOWS = 2;
/** How long to wait for them at most: past it the phase goes on, and the wait says so. */
const QUIET_WAIT_LIMIT_MS = 60_000;

/**
 * Waits until the stack's servers are quiet: before a phase, so that it does not pay for the work the
 * one before left them (the Temporal server's visibility and history tasks run behind the
 * executions); after it, so that it is charged with its own. Returns how long it waited and whether
 * they went quiet.
 */
export async function untilStackQuiet(
  serversCpu: () => number = () => serversCpuMs(sampleCpu({})),
  clock: { now(): number; sleep(ms: number): Promise<void> } = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = clock.now();
  let previous = serversCpu();
  let quietWindows = 0;
  while (quietWindows < QUIET_WINDOWS) {
    if (clock.now() - started >= QUIET_WAIT_LIMIT_MS) return { waitedMs: clock.now() - started, quiet: false };
    await clock.sleep(1_000);
    const now = serversCpu();
    quietWindows = now - previous < QUIET_MS_PER_SECOND ? quietWindows + 1 : 0;
    previous = now;
  }
  return { waitedMs: clock.now() - started, quiet: true };
}

function serversCpuMs(sample: CpuSample): number {
  return Object.keys(SERVERS).reduce((sum, name) => sum + (sample[name] ?? 0), 0);
}

/** CPU-ms per transfer of each process between two samples. */
export function cpuPerTransfer(before: CpuSample, after: CpuSample, transfers: number): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after).map((name) => [name, Math.round((((after[name] ?? 0) - (before[name] ?? 0)) / transfers) * 10) / 10]),
  );
}

function cpuMsOf(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readOr(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000 || 0;
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
