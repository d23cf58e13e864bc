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

export const Metric = {
  Connections: 'Connections',
  Disconnections: 'Disconnections',
  AuthFailures: 'AuthFailures',
  MessagesAccepted: 'MessagesAccepted',
  MessagesDuplicate: 'MessagesDuplicate',
  MessagesRateLimited: 'MessagesRateLimited',
  /** Answered `unavailable`: not confirmed by the replicas in time, cache full, or Redis unreachable. */
  MessagesUnavailable: 'MessagesUnavailable',
  Deliveries: 'Deliveries',
  StaleConnectionsPruned: 'StaleConnectionsPruned',
  DeliveryRetries: 'DeliveryRetries',
  FailedDeliveries: 'FailedDeliveries',
  PublishFailures: 'PublishFailures',
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
