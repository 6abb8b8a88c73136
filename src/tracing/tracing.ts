import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ClientOptions } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';

/** The workflow side of Temporal's interceptors: in the traced workflow bundle only (see scripts/bundle-workflows.ts). */
export const WORKFLOW_TRACING_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

// Spans wait in a bounded queue and go out in batches; an export that does not answer in time is dropped.
const SPAN_QUEUE_LIMIT = 8_192;
const SPAN_BATCH = 512;
const SPAN_EXPORT_DELAY_MS = 1_000;
const SPAN_EXPORT_TIMEOUT_MS = 10_000;

/**
 * OpenTelemetry tracing of a transaction from its message to its announcement: the bridge's span,
 * the signal-with-start that carries its context to the workflow (Temporal's client interceptor),
 * the workflow's and its activities' spans (Temporal's interceptors; the workflow's reach the
 * exporter through a sink), and the publish. Off unless an OTLP endpoint is configured; off, the
 * spans of @opentelemetry/api are no-ops and no interceptor runs.
 */
export interface Tracing {
  readonly enabled: boolean;
  readonly clientInterceptors?: ClientOptions['interceptors'];
  readonly activityInterceptors: NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>;
  readonly workflowSinks?: WorkerOptions['sinks'];
  /** Exports what is still queued, then unregisters the process-wide tracer. */
  shutdown(): Promise<void>;
}

/** `otlpEndpoint`: the collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to its /v1/traces as OTLP over HTTP. */
export function startTracing(otlpEndpoint: string | undefined, serviceName: string): Tracing {
  if (!otlpEndpoint) return { enabled: false, activityInterceptors: [], shutdown: async () => undefined };
  const resource = new Resource({ 'service.name': serviceName });
  const processor = new BatchSpanProcessor(
    new OTLPTraceExporter({ url: new URL('v1/traces', withTrailingSlash(otlpEndpoint)).toString(), timeoutMillis: SPAN_EXPORT_TIMEOUT_MS }),
    {
      maxQueueSize: SPAN_QUEUE_LIMIT,
      maxExportBatchSize: SPAN_BATCH,
      scheduledDelayMillis: SPAN_EXPORT_DELAY_MS,
      exportTimeoutMillis: SPAN_EXPORT_TIMEOUT_MS,
    },
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The global tracer, the W3C propagator and the AsyncLocalStorage context that carries a span
  // from an activity's interceptor to the publish inside it.
  provider.register();
  return {
    enabled: true,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    activityInterceptors: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })],
    workflowSinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
