// `npm run bench -- --scenario live`: 1,000 transfers through the broker between wallets whose owners
// each follow their live updates (SSE) on the service process; the latency from an entry's createdAt
// (stamped when the ledger wrote it) to its event reaching the client, and that each stream got
// every entry once, in order.
import { Types } from 'mongoose';
import { openStores } from '../../src/stores';
import { BenchTokens } from './api-client';
import { fundedWallets } from './funding';
import { LoadDriver, percentile } from './load';
import { ServiceProcess, type ScenarioEnvironment } from './service-process';

const SERVICE_PORT = 4099;
const FUNDING = 1_000_000;
const FUNDING_TIMEOUT_MS = 5 * 60_000;

export interface LiveScenarioResult {
  transfers: number;
  wallets: number;
  events: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  inOrderOnce: boolean;
  seconds: number;
}

export async function liveScenario(
  environment: ScenarioEnvironment,
  transfers: number,
  wallets: number,
  progress: (message: string) => void,
): Promise<LiveScenarioResult> {
  const database = `mint_wallet_bench_live_${Date.now()}`;
  const databaseUrl = environment.databaseUrlOf(database);
  const stores = await openStores(databaseUrl);
  const tokens = await BenchTokens.create();
  const driver = await LoadDriver.connect(environment.rabbitmqUrl);
  const service = await ServiceProcess.start(
    { ...environment, database, databaseUrl, env: { JWT_PUBLIC_KEY: tokens.publicKeyPem, JWKS_ENDPOINT: '' } },
    false,
  );
  const followers: LiveFollower[] = [];
  try {
    progress(`live: funding ${wallets} wallets`);
    const users = await fundedWallets(driver, stores, { count: wallets, amount: FUNDING, timeoutMs: FUNDING_TIMEOUT_MS });
    for (const user of users) followers.push(await LiveFollower.open(user, await tokens.token(user)));
    await Promise.all(followers.map((f) => f.until(1, 30_000)));
    progress(`live: ${transfers} transfers through the broker, each wallet's owner following its live updates`);
    const started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < transfers; i++) {
      const transactionId = new Types.ObjectId().toHexString();
      ids.push(transactionId);
      const [fromUserId, toUserId] = [users[i % wallets], users[(i + 1) % wallets]];
      await driver.completed(transactionId, { type: 'Transfer', fromUserId, toUserId, amount: 1 + (i % 50) });
    }
    await driver.flush();
    await driver.allFinalized(ids, 15 * 60_000);
    // Each transfer is a debit on one stream and a credit on another, besides each stream's first entry.
    await Promise.all(followers.map((f) => f.until(1 + (2 * transfers) / wallets, 60_000)));
    const latencies = followers.flatMap((f) => f.latencies()).sort((a, b) => a - b);
    return {
      transfers,
      wallets,
      events: latencies.length,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: latencies.at(-1)! },
      inOrderOnce: followers.every((f) => f.inOrderOnce()),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    followers.forEach((f) => f.close());
    await service.stop();
    await driver.close();
    await stores.connection.dropDatabase().catch(() => undefined);
    await stores.close();
  }
}

/** One user's live-update stream: each entry's version, createdAt and when it arrived. */
class LiveFollower {
  private readonly received: Array<{ version: number; createdAt: number; receivedAt: number }> = [];
  private constructor(private readonly abort: AbortController) {}

  static async open(userId: string, token: string): Promise<LiveFollower> {
    const abort = new AbortController();
    const response = await fetch(`http://127.0.0.1:${SERVICE_PORT}/api/v1/wallet/user/events`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    if (response.status !== 200) throw new Error(`events of ${userId} answered ${response.status}`);
    const follower = new LiveFollower(abort);
    void follower.read(response.body!);
    return follower;
  }

  async until(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.received.length} of ${count} live events within ${timeoutMs / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Entry written → event received, for every event after the first (the latest entry when it connected). */
  latencies(): number[] {
    return this.received.slice(1).map((r) => r.receivedAt - r.createdAt);
  }

  inOrderOnce(): boolean {
    return this.received.every((r, i) => i === 0 || r.version === this.received[i - 1].version + 1);
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (!data) continue;
          const entry = JSON.parse(data) as { version: number; createdAt: string };
          this.received.push({ version: entry.version, createdAt: Date.parse(entry.createdAt), receivedAt: Date.now() });
        }
      }
    } catch {
      // Closed by the scenario.
    }
  }
}
