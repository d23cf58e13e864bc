/** The shared layer: everything the route handlers have in common. */

export { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
export * from './auth';
export * from './backoff';
export * from './broadcaster';
export * from './classroom-store';
export * from './config';
export * from './dynamo-store';
export * from './fanout';
export * from './handler';
export * from './management-api';
export * from './message';
export * from './observability';
export * from './protocol';
export * from './redis';
export * from './room-store';
export * from './runtime';
export { secretString } from './secrets';
