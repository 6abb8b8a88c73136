import { untilStackQuiet } from '../../scripts/bench/cpu';

// The bench waits for the stack's servers to go quiet around each phase: a phase neither pays for
// the work the one before left them nor leaves its own unmeasured.

/** The servers' CPU-ms used each second, in turn, on a clock that only the waits move. */
function stack(msPerSecond: number[]) {
  let now = 0;
  let used = 0;
  let second = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    serversCpu: () => used,
    clock: {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
        used += msPerSecond[Math.min(second++, msPerSecond.length - 1)];
      },
    },
  };
}

describe('waiting for a quiet stack', () => {
  it('returns after two quiet seconds in a row', async () => {
    const busyThenIdle = stack([900, 400, 30, 20]);
    await expect(untilStackQuiet(busyThenIdle.serversCpu, busyThenIdle.clock)).resolves.toEqual({ waitedMs: 4_000, quiet: true });
  });

  it('starts counting again when a busy second breaks the quiet ones', async () => {
    const flickering = stack([20, 500, 20, 20]);
    await expect(untilStackQuiet(flickering.serversCpu, flickering.clock)).resolves.toEqual({ waitedMs: 4_000, quiet: true });
  });

  it('goes on after a minute of a stack that stays busy, and says so', async () => {
    const busy = stack([800]);
    await expect(untilStackQuiet(busy.serversCpu, busy.clock)).resolves.toEqual({ waitedMs: 60_000, quiet: false });
    expect(busy.sleeps).toHaveLength(60);
  });
});
