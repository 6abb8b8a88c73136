/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Checks `expectation` (a function that throws, as `expect` does) every `intervalMs` for `forMs`,
 * and fails at the first check that throws: for what must not happen (a second announcement, a
 * duplicate event), which no condition can wait for; the window is the time given it to happen.
 */
export async function throughout(forMs: number, expectation: () => void | Promise<void>, intervalMs = 50): Promise<void> {
  const end = Date.now() + forMs;
  for (;;) {
    await expectation();
    if (Date.now() >= end) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
