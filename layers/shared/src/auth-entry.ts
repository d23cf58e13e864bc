/**
 * The layer's second entry, `@classroom/shared/auth` (auth.js in the layer, beside the full index.js): what
 * the authorizer uses and nothing more. Token verification (jose), its settings, the handler wrapper, the
 * logger and metrics; no ioredis, management API client, SQS batch processing or AWS SDK client in its
 * import graph. The authorizer runs on every handshake: its cold start is loading this file.
 */
import type * as Secrets from './secrets';

export { canJoin, createVerifier, type Identity, TokenError, type Verifier, verifyToken } from './auth';
export { type AuthSettings, authSettings } from './config';
export { lambdaHandler } from './handler';
export { count, logger, Metric } from './observability';

/**
 * Loads the Secrets Manager reader (`secretString`) and returns it. Its client is most of the layer's AWS SDK
 * code, so it has a file of its own in the layer (secrets.js), loaded only by a function that calls this.
 */
export function secretReader(): typeof Secrets.secretString {
  // require, not import(): the layer's auth bundle keeps './secrets' external, resolved to secrets.js beside it.
  return (require('./secrets') as typeof Secrets).secretString;
}
