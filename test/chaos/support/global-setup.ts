import { bundleWorkflowsForTests } from '../../support/workflow-bundle';

/** The chaos suites run their own servers; all they share is one workflow bundle. */
export default async function globalSetup(): Promise<void> {
  process.env.WALLET_TEST_WORKFLOW_BUNDLE = await bundleWorkflowsForTests();
}
