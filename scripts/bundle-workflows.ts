// `npm run build` step: bundles the workflow code once, so a starting worker need not (faster start,
// and the exact code that replays is an artifact). Point TEMPORAL_WORKFLOW_BUNDLE at the output.
// A second bundle beside it carries Temporal's OpenTelemetry workflow interceptors: the worker runs
// it when tracing is on (the interceptors add headers and sink calls, no command, so executions
// replay on either bundle).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { tracedBundlePath } from '../src/temporal/worker';
import { WORKFLOW_TRACING_MODULE } from '../src/tracing/tracing';

async function main(): Promise<void> {
  const output = process.argv[2] ?? path.resolve(__dirname, '../workflow-bundle.js');
  const workflowsPath = require.resolve('../workflows');
  const plain = await bundleWorkflowCode({ workflowsPath });
  writeFileSync(output, plain.code);
  const traced = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] });
  writeFileSync(tracedBundlePath(output), traced.code);
  process.stdout.write(`workflow bundles written to ${output} and ${tracedBundlePath(output)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
