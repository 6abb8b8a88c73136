// `npm run build` step: bundles the workflow code once, so a starting worker need not (faster start,
// and the exact code that replays is an artifact). Point TEMPORAL_WORKFLOW_BUNDLE at the output.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const output = process.argv[2] ?? path.resolve(__dirname, '../workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  writeFileSync(output, code);
  process.stdout.write(`workflow bundle written to ${output}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
