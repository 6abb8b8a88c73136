import { connect as connectTcp } from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../workflows/wallet-transaction/definitions';
import { TEST_DATABASE_BASE_URL, TEST_RABBITMQ_URL, temporalCliPath } from './tools';
import { bundleWorkflowsForTests } from './workflow-bundle';
import { freePort } from './free-port';

declare global {
  var __walletTestTemporal: TestWorkflowEnvironment | undefined;
}

/**
 * Once per run: checks that the database and the broker answer, starts a Temporal dev server through
 * @temporalio/testing from the installed CLI, and bundles the workflow code once for every worker.
 */
export default async function globalSetup(): Promise<void> {
  await Promise.all([
    reachable('MongoDB (DATABASE_URL)', TEST_DATABASE_BASE_URL, 27017),
    reachable('RabbitMQ (RABBITMQ_URL)', TEST_RABBITMQ_URL, 5672),
  ]);
  await startTemporalAndBundle();
}

/** A Temporal dev server for the run, and the workflow bundle every worker of the run loads. */
export async function startTemporalAndBundle(): Promise<void> {
  const uiPort = await freePort();
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      // The Temporal UI too, for the spec that drives it in a browser.
      ui: true,
      uiPort,
      searchAttributes: Object.values(SEARCH_ATTRIBUTES),
      log: { format: 'pretty', level: 'error' },
    },
  });
  globalThis.__walletTestTemporal = temporal;
  process.env.WALLET_TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.WALLET_TEST_TEMPORAL_UI = `http://127.0.0.1:${uiPort}`;

  process.env.WALLET_TEST_WORKFLOW_BUNDLE = await bundleWorkflowsForTests();
}

function reachable(what: string, url: string, defaultPort: number): Promise<void> {
  const parsed = new URL(url);
  const port = Number(parsed.port || defaultPort);
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: parsed.hostname, port, timeout: 3_000 });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`${what} is not reachable at ${parsed.hostname}:${port} (${reason}); "npm test" starts the local stack`));
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail('timeout'));
    socket.once('error', (error) => fail(error.message));
  });
}
