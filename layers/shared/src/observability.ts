/** Structured JSON logs and CloudWatch EMF metrics through Powertools for AWS Lambda. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'ClassroomRealtime';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'classroom-realtime',
});

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'classroom-realtime',
});

/**
 * The custom metrics, each emitted with the one dimension set {service}: every name is one billed custom metric,
 * so there are only those the template's dashboard or alarms read (see the on-call table there). Counts that
 * answer no on-call question are not emitted: connects are the free API Gateway ConnectCount, deliveries part
 * of its MessageCount, publish failures show in the publish queue's age and dead-letter alarms, pruned
 * connections in the logs; resends answered as duplicates and retried posts are routine.
 */
export const Metric = {
  /** Messages stored and broadcast (sendMessage and server-side publish). */
  MessagesAccepted: 'MessagesAccepted',
  /** Answered `unavailable`: not confirmed by the replicas in time, cache full, or Redis unreachable (alarm). */
  MessagesUnavailable: 'MessagesUnavailable',
  MessagesRateLimited: 'MessagesRateLimited',
  /** Posts that failed after retries: the member sees a seq gap and resumes (alarm). */
  FailedDeliveries: 'FailedDeliveries',
  /** Tokens refused at $connect (a wrong secret or JWKS shows here first). */
  AuthFailures: 'AuthFailures',
  /** Requests answered with an internal error (alarm). */
  HandlerErrors: 'HandlerErrors',
} as const;
export type Metric = (typeof Metric)[keyof typeof Metric];

export function count(metric: Metric, value = 1): void {
  if (value > 0) metrics.addMetric(metric, MetricUnit.Count, value);
}

/** Flushes the invocation's metrics (one EMF line); nothing when none were recorded. */
export function flushMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
