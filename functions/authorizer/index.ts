/**
 * REQUEST authorizer on `$connect`. A missing or invalid token throws `Unauthorized` (API Gateway: 401);
 * a valid token for another room, or no `classRoomId`, gets a Deny policy (403). The Allow policy's
 * context (userId, name, role, classRoomId) reaches every later route in `requestContext.authorizer`.
 * It imports the layer's auth entry only (no Redis client, management API or batch processing to load).
 */
import {
  authSettings,
  canJoin,
  count,
  createVerifier,
  lambdaHandler,
  logger,
  Metric,
  secretReader,
  TokenError,
  type Verifier,
  verifyToken,
} from '@classroom/shared/auth';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';

const settings = authSettings();
// Secrets Manager's reader only when the HS256 secret is read from there (JWT_SECRET_ARN alone): its client is
// the largest part of the layer, loaded here at init, as before, rather than in the first handshake.
const secretString = settings.jwksUrl || settings.secret ? undefined : secretReader();
let verifier: Promise<Verifier> | undefined;

function getVerifier(): Promise<Verifier> {
  verifier ??= (async () => {
    // With a JWKS URL the secret is not used.
    const secret = secretString ? await secretString(settings.secretArn as string) : settings.secret;
    return createVerifier(settings, secret);
  })().catch((error: unknown) => {
    verifier = undefined;
    throw error;
  });
  return verifier;
}

function policy(
  principalId: string,
  effect: 'Allow' | 'Deny',
  resource: string,
  context?: Record<string, string>,
): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
    },
    ...(context ? { context } : {}),
  };
}

export const handler = lambdaHandler(
  'authorizer',
  async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const query = event.queryStringParameters ?? {};
    const classRoomId = query.classRoomId ?? undefined;
    const identity = await verifyToken(await getVerifier(), query.token ?? undefined);
    if (!canJoin(identity, classRoomId)) {
      count(Metric.AuthFailures);
      logger.info('connection denied: room not in token or not a valid room id', {
        userId: identity.userId,
        classRoomId,
      });
      return policy(identity.userId, 'Deny', event.methodArn);
    }
    return policy(identity.userId, 'Allow', event.methodArn, {
      userId: identity.userId,
      name: identity.name,
      role: identity.role,
      classRoomId,
    });
  },
  {
    // A missing or invalid token is a refusal (401), logged at info; anything else fails the invocation.
    expected: (error) => (error instanceof TokenError ? 'info' : undefined),
    onError: (error) => {
      if (!(error instanceof TokenError)) throw error;
      count(Metric.AuthFailures);
      throw new Error('Unauthorized');
    },
  },
);
