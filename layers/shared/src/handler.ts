/**
 * The one wrapper every function's handler goes through: the logger gets the invocation's Lambda context
 * and keys, the invocation's metrics are flushed at its end, and an error the handler did not answer itself
 * is logged (never sent) and turned into the function's answer by `onError`: an error frame for a route, a
 * status for `$connect`/`$disconnect`, `Unauthorized` for the authorizer, a rethrow for the SQS batch.
 */
import type { Context } from 'aws-lambda';
import { count, flushMetrics, logger, Metric } from './observability';

/** How an error the function expects (a refusal, an unavailable store) is logged; unexpected ones are errors. */
export type ExpectedLevel = 'info' | 'warn';

export interface HandlerOptions<E, R> {
  /** Logger keys of this invocation (route, connection id…). */
  keys?: (event: E) => Record<string, unknown>;
  /** The log level of an error the function expects; undefined: unexpected (logged as an error, counted). */
  expected?: (error: unknown) => ExpectedLevel | undefined;
  /** The invocation's answer when the handler throws; throw to fail the invocation. */
  onError: (error: unknown, event: E) => R | Promise<R>;
}

export function lambdaHandler<E, R>(
  name: string,
  handle: (event: E, context: Context) => Promise<R>,
  options: HandlerOptions<E, R>,
): (event: E, context?: Context) => Promise<R> {
  return async (event, context) => {
    // Lambda always passes a context; tests and benches that call a handler directly may not.
    if (context) logger.addContext(context);
    if (options.keys) logger.appendKeys(options.keys(event));
    try {
      return await handle(event, context as Context);
    } catch (error) {
      const level = options.expected?.(error);
      if (level) {
        logger[level](`${name}: ${(error as Error)?.message ?? 'refused'}`, { error: error as Error });
      } else {
        count(Metric.HandlerErrors);
        logger.error(`${name} failed`, { error: error as Error });
      }
      return await options.onError(error, event);
    } finally {
      flushMetrics();
      logger.resetKeys();
    }
  };
}
