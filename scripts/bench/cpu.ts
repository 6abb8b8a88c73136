// CPU time of the processes a benchmark phase runs on, read from /proc: how many CPU-milliseconds
// each spends per transfer. The servers are those of the bench's stack, found by the pid files
// scripts/stack.sh writes for it, so that another stack on the machine is never counted.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * Each server by the pid file scripts/stack.sh writes in the stack's run directory: the Temporal dev
 * server (or, under STACK_TEMPORAL=postgres, the Temporal server and its PostgreSQL), FerretDB, and
 * RabbitMQ's launcher, under which its Erlang VM runs.
 */
const SERVER_PID_FILES: Record<string, string> = {
  temporal: 'temporal.pid',
  postgres: 'postgres.pid',
  ferretdb: 'ferretdb.pid',
  rabbitmq: 'rabbitmq.pid',
};

/** The run directory of the stack the bench runs on (STACK_NAME, as scripts/stack.sh names it). */
const STACK_RUN_DIR = path.resolve(__dirname, '../..', '.run', process.env.STACK_NAME ?? '');

/** A process as /proc shows it: its parent, and the CPU-ms it has used so far. */
export interface ProcessCpu {
  pid: number;
  parent: number;
  cpuMs: number;
}

/** Each server's CPU-ms: the process its pid names and every process under it (PostgreSQL's backends, RabbitMQ's VM). */
export function serversCpuMs(serverPids: Record<string, number | undefined>, processes: ProcessCpu[]): Record<string, number> {
  const byPid = new Map(processes.map((running) => [running.pid, running]));
  const children = new Map<number, ProcessCpu[]>();
  for (const running of processes) {
    const siblings = children.get(running.parent);
    if (siblings) siblings.push(running);
    else children.set(running.parent, [running]);
  }
  const treeCpu = (pid: number): number =>
    (byPid.get(pid)?.cpuMs ?? 0) + (children.get(pid) ?? []).reduce((sum, child) => sum + treeCpu(child.pid), 0);
  const servers: Record<string, number> = {};
  for (const [name, pid] of Object.entries(serverPids)) if (pid !== undefined && byPid.has(pid)) servers[name] = treeCpu(pid);
  return servers;
}

export type CpuSample = Record<string, number>;

/** CPU-ms used so far by the stack's servers, `extra` named processes, and this process (the load generator). */
export function sampleCpu(extra: Record<string, number | undefined>): CpuSample {
  const processes = readProcesses();
  const cpuOf = (pid: number) => processes.find((running) => running.pid === pid)?.cpuMs ?? 0;
  const sample: CpuSample = serversCpuMs(stackServerPids(), processes);
  for (const [name, pid] of Object.entries(extra)) if (pid !== undefined) sample[name] = cpuOf(pid);
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
  serversCpu: () => number = () => allServersCpuMs(sampleCpu({})),
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

function allServersCpuMs(sample: CpuSample): number {
  return Object.keys(SERVER_PID_FILES).reduce((sum, name) => sum + (sample[name] ?? 0), 0);
}

/** CPU-ms per transfer of each process between two samples. */
export function cpuPerTransfer(before: CpuSample, after: CpuSample, transfers: number): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after).map((name) => [name, Math.round((((after[name] ?? 0) - (before[name] ?? 0)) / transfers) * 10) / 10]),
  );
}

/** Every process's parent and CPU-ms, from /proc/<pid>/stat (utime and stime, after the command name, which may hold spaces). */
function readProcesses(): ProcessCpu[] {
  const processes: ProcessCpu[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const stat = readOr(`/proc/${entry}/stat`);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    processes.push({
      pid: Number(entry),
      parent: Number(fields[1]),
      cpuMs: ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000 || 0,
    });
  }
  return processes;
}

function stackServerPids(): Record<string, number | undefined> {
  return Object.fromEntries(
    Object.entries(SERVER_PID_FILES).map(([name, file]) => {
      const pid = Number(readOr(path.join(STACK_RUN_DIR, file)).trim());
      return [name, pid > 0 ? pid : undefined];
    }),
  );
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
