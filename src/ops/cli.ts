// The operators' command line: npm run ops -- <command> (or node dist/src/ops/cli.js <command>).
// It talks to the servers the environment names, like the service itself; each command is a file here.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connect } from 'amqplib';
import { ConfigError, loadConfig } from '../config';
import { canonicalObjectId } from '../domain';
import { Ledger } from '../ledger';
import { createMetrics } from '../metrics';
import { openStores } from '../stores';
import { listDeadLetters, replayDeadLetters } from './dead-letters';
import { FinalTransactionError, type OperationsContext } from './operations-context';
import { reconcileNow } from './reconcile';
import { resetTransaction } from './reset';
import { retryTransaction } from './retry';
import { showTransaction } from './show';
import { listStuck } from './stuck';
import { verifyLedger } from './verify';

const USAGE = `usage: npm run ops -- <command>
  show <transactionId>          the execution, its state and legs, and the ledger entries
  stuck [minutes]               running transactions Pending longer than minutes (default 5) or NeedsOperator,
                                and executions that closed leaving theirs unsettled (terminated, failed, timed out)
  retry <transactionId>         signal operatorRetry: run the step waiting for an operator again
  reset <transactionId> <why>   rerun the execution from its start (applied legs are not applied twice)
  verify [--user ID] [--after WALLET] [--head VERSION:HASH]
                                re-walk the ledger's hash chains, every wallet (in slices: --after resumes) or one,
                                naming the first entry changed; --head checks a kept statement's closing (exit 1 if not)
  reconcile [--full]            check what changed since the last pass (--full: every wallet from its first entry)
                                against the ledger, its chain and money conservation (exit 1 on drift)
  dlq list [n]                  the first n dead letters with their reasons (default 20)
  dlq replay [n]                publish n dead letters again to the queue each came from (default 1);
                                exit 1 when some were kept in the queue (the output says why)
--force                         retry, reset or replay though the transaction record says it is final
                                (see docs/operations.md: the record still decides what moves)`;

/** What a command was given: its words after the command's name, and its options. */
interface Invocation {
  positionals: string[];
  values: { force?: boolean; full?: boolean; user?: string; after?: string; head?: string };
}

interface OpsCommand {
  options?: ParseArgsConfig['options'];
  needsBroker?: boolean;
  /** What to print, and the exit code (0 unless the command found something wrong). */
  run(ctx: OperationsContext, invocation: Invocation): Promise<{ output: unknown; exitCode?: number }>;
}

const FORCE = { force: { type: 'boolean' } } as const;

const COMMANDS: Record<string, OpsCommand> = {
  show: { run: async (ctx, { positionals }) => ({ output: await showTransaction(ctx, transactionIdIn(positionals)) }) },
  stuck: { run: async (ctx, { positionals }) => ({ output: await listStuck(ctx, countIn(positionals[0], 5) * 60_000) }) },
  retry: {
    options: FORCE,
    run: async (ctx, { positionals, values }) => ({
      output: { signalled: 'operatorRetry', workflowId: await retryTransaction(ctx, transactionIdIn(positionals), values) },
    }),
  },
  reset: {
    options: FORCE,
    async run(ctx, { positionals, values }) {
      const reason = positionals.slice(1).join(' ');
      if (!reason) throw new UsageError('say why: reset <transactionId> <reason>');
      return { output: { newRunId: await resetTransaction(ctx, transactionIdIn(positionals), reason, values) } };
    },
  },
  reconcile: {
    options: { full: { type: 'boolean' } },
    async run(ctx, { values }) {
      const report = await reconcileNow(ctx, { full: values.full });
      return { output: report, exitCode: report.ok ? 0 : 1 };
    },
  },
  verify: {
    options: { user: { type: 'string' }, after: { type: 'string' }, head: { type: 'string' } },
    async run(ctx, { values }) {
      const userId = values.user === undefined ? undefined : canonicalObjectId(values.user);
      if (values.user !== undefined && !userId) throw new UsageError('--user takes a 24-hex-digit userId');
      const kept = values.head === undefined ? undefined : /^(\d+):([0-9a-f]{64})$/.exec(values.head);
      if (kept === null) throw new UsageError('--head takes <version>:<hash>, as a statement closes with');
      if (kept && !userId) throw new UsageError('--head checks one wallet: give its --user');
      const verification = await verifyLedger(
        ctx.stores.ledger,
        { userId, after: values.after ?? null, keptHead: kept ? { version: Number(kept[1]), hash: kept[2] } : undefined },
        ({ wallets, entries, next }) =>
          process.stderr.write(`verified ${wallets} wallets, ${entries} entries${next ? `; resume with --after ${next}` : ''}\n`),
      );
      return { output: verification, exitCode: verification.ok ? 0 : 1 };
    },
  },
  dlq: {
    options: FORCE,
    needsBroker: true,
    async run(ctx, { positionals: [action, n], values }) {
      if (action === 'list') return { output: await listDeadLetters(ctx, countIn(n, 20)) };
      if (action !== 'replay') throw new UsageError('dlq list [n] | dlq replay [n] [--force]');
      const report = await replayDeadLetters(ctx, countIn(n, 1), values);
      return { output: report, exitCode: report.kept.length === 0 ? 0 : 1 };
    },
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command ${name}`);
  const invocation = parsed(command, rest);
  const config = loadConfig(process.env, { forService: false });
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' });
  const db = await openStores(config.mongo.url, config.wallet.finalizationLogRetentionHours);
  const amqp = command.needsBroker ? await connect(config.amqp.url, { timeout: 5_000 }) : undefined;
  const ctx: OperationsContext = {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    stores: db,
    ledger: new Ledger(db.ledger, createMetrics(), config.wallet.initialBalance),
    stalledAfterMs: config.wallet.reconciliationStalledAfterMinutes * 60_000,
    channel: amqp ? await amqp.createConfirmChannel() : undefined,
  };
  try {
    const { output, exitCode = 0 } = await command.run(ctx, invocation);
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    return exitCode;
  } finally {
    await amqp?.close();
    await db.close();
    await connection.close();
  }
}

function parsed(command: OpsCommand, args: string[]): Invocation {
  try {
    const { positionals, values } = parseArgs({ args, options: command.options ?? {}, allowPositionals: true, strict: true });
    return { positionals, values };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function transactionIdIn(positionals: string[]): string {
  const id = canonicalObjectId(positionals[0]);
  if (!id) throw new UsageError('a 24-hex-digit transactionId is required');
  return id;
}

/** A count given on the command line, or its default: a positive whole number. */
function countIn(given: string | undefined, fallback: number): number {
  if (given === undefined) return fallback;
  const count = Number(given);
  if (!Number.isSafeInteger(count) || count < 1) throw new UsageError(`${given} is not a positive whole number`);
  return count;
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(`${error.message}\n${USAGE}\n`);
    else if (error instanceof FinalTransactionError) process.stderr.write(`refused: ${error.message}\n`);
    else if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
