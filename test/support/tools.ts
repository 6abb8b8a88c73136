import { existsSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** The Temporal CLI the stack script installed (or TEMPORAL_CLI_PATH); tests never download one. */
export function temporalCliPath(): string {
  const candidates = [
    process.env.TEMPORAL_CLI_PATH,
    path.join(REPO_ROOT, '.tools/temporal/bin/temporal'),
    path.join(REPO_ROOT, '.tools/bin/temporal'),
  ].filter((candidate): candidate is string => !!candidate);
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) {
    throw new Error(`no Temporal CLI at ${candidates.join(' or ')}: run "npm test" (it installs it) or "bash scripts/stack.sh install"`);
  }
  return found;
}

/** Temporal's time-skipping test server the stack script installed, if Java and Maven let it. */
export function temporalTestServerPath(): string | undefined {
  const installed = path.join(REPO_ROOT, '.tools/bin/temporal-test-server');
  return existsSync(installed) ? installed : undefined;
}

export const TEST_DATABASE_BASE_URL = process.env.DATABASE_URL ?? 'mongodb://127.0.0.1:27017/mint_wallet';
export const TEST_RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The same server as DATABASE_URL, another database: each suite gets a clean one of its own. */
export function databaseUrlFor(database: string): string {
  const url = new URL(TEST_DATABASE_BASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}
