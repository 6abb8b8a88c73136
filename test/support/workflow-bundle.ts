import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_TRACING_MODULE } from '../../src/tracing/tracing';
import { REPO_ROOT } from './tools';

/** Bundles the workflow code once for every worker of a test run; returns the bundle's path. */
export function bundleWorkflowsForTests(): Promise<string> {
  return bundleTo('workflow-bundle.js', []);
}

/** The bundle a worker runs with tracing on: Temporal's OpenTelemetry workflow interceptors included. */
export function bundleTracedWorkflowsForTests(): Promise<string> {
  return bundleTo('workflow-bundle-traced.js', [WORKFLOW_TRACING_MODULE]);
}

async function bundleTo(file: string, workflowInterceptorModules: string[]): Promise<string> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules,
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const dir = path.join(REPO_ROOT, '.run/test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = path.join(dir, file);
  writeFileSync(bundlePath, bundle.code);
  return bundlePath;
}
