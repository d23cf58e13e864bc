/**
 * Every 401/403 case of SPEC §3, table-driven, against the real authorizer handler. API Gateway turns a
 * thrown `Unauthorized` into 401 and a Deny policy into 403; the emulator tests check that mapping.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type MotoServer, motoUnavailable, startMoto } from '../../integration/support/moto';
import { clf } from '../support/events';
import { testClusterUrl } from '../support/stack-redis';

const SECRET = 'test-secret-for-the-authorizer-0123456789';
process.env.JWT_SECRET = SECRET;

type Handler = (event: APIGatewayRequestAuthorizerEvent) => Promise<{
  principalId: string;
  policyDocument: { Statement: { Effect: string; Resource: string }[] };
  context?: Record<string, string>;
}>;
let handler: Handler;
beforeAll(async () => {
  handler = (await import('../../functions/authorizer/index')).handler as unknown as Handler;
});

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function sign(claims: Record<string, unknown>, options: { secret?: string; exp?: number | null } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now() + 600);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const valid = { sub: 'u1', name: 'Ann', role: 'teacher', rooms: ['r1', 'r2'] };

function authorizerEvent(query: Record<string, string> | undefined): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:000000000000:abc123/test/$connect',
    headers: { Host: '127.0.0.1' },
    multiValueHeaders: { Host: ['127.0.0.1'] },
    queryStringParameters: query ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: {},
    pathParameters: null,
    path: '/test',
    httpMethod: 'GET',
    resource: '/test',
    requestContext: {
      routeKey: '$connect',
      eventType: 'CONNECT',
      requestTime: clf(),
      stage: 'test',
      connectionId: 'AbCdEfGhIjk=',
      apiId: 'abc123',
    } as unknown as APIGatewayRequestAuthorizerEvent['requestContext'],
  } as APIGatewayRequestAuthorizerEvent;
}

describe('Function: authorizer', () => {
  const unauthorized: [string, () => Promise<Record<string, string> | undefined>][] = [
    ['no query string at all', async () => undefined],
    ['a missing token', async () => ({ classRoomId: 'r1' })],
    ['a malformed token', async () => ({ classRoomId: 'r1', token: 'not.a.jwt' })],
    [
      'a token signed with another secret',
      async () => ({
        classRoomId: 'r1',
        token: await sign(valid, { secret: 'wrong-secret-0123456789-abcdefgh' }),
      }),
    ],
    ['an expired token', async () => ({ classRoomId: 'r1', token: await sign(valid, { exp: now() - 60 }) })],
    ['a token without exp', async () => ({ classRoomId: 'r1', token: await sign(valid, { exp: null }) })],
    [
      'a not-yet-valid token (nbf)',
      async () => ({ classRoomId: 'r1', token: await sign({ ...valid, nbf: now() + 3600 }) }),
    ],
    [
      'a token without sub',
      async () => ({ classRoomId: 'r1', token: await sign({ ...valid, sub: undefined }) }),
    ],
    ['rooms not an array', async () => ({ classRoomId: 'r1', token: await sign({ ...valid, rooms: 'r1' }) })],
    ['an invalid role', async () => ({ classRoomId: 'r1', token: await sign({ ...valid, role: 'admin' }) })],
    [
      'alg none',
      async () => ({
        classRoomId: 'r1',
        token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...valid, exp: now() + 600 })}.`,
      }),
    ],
    [
      'a tampered payload',
      async () => {
        const [header, , signature] = (await sign(valid)).split('.');
        return {
          classRoomId: 'r3',
          token: `${header}.${b64({ ...valid, rooms: ['r3'], exp: now() + 600 })}.${signature}`,
        };
      },
    ],
    [
      'an RS256 token (HS/RS confusion)',
      async () => {
        const { privateKey, publicKey } = await generateKeyPair('RS256');
        const jwk = await exportJWK(publicKey);
        const token = await new SignJWT({ ...valid, jwk })
          .setProtectedHeader({ alg: 'RS256' })
          .setExpirationTime(now() + 600)
          .sign(privateKey);
        return { classRoomId: 'r1', token };
      },
    ],
    [
      'an oversized token',
      async () => ({ classRoomId: 'r1', token: await sign({ ...valid, pad: 'x'.repeat(9000) }) }),
    ],
  ];

  it.each(unauthorized)('refuses %s with Unauthorized (401)', async (_name, query) => {
    // Prepare
    const event = authorizerEvent(await query());
    // Act
    const outcome = handler(event);
    // Assess
    await expect(outcome).rejects.toThrow(/^Unauthorized$/);
  });

  const forbidden: [string, () => Promise<Record<string, string>>][] = [
    ['a room not in the token', async () => ({ classRoomId: 'r9', token: await sign(valid) })],
    ['a missing classRoomId', async () => ({ token: await sign(valid) })],
    ['an empty rooms list', async () => ({ classRoomId: 'r1', token: await sign({ ...valid, rooms: [] }) })],
  ];

  it.each(forbidden)('denies %s with a Deny policy (403)', async (_name, query) => {
    // Prepare
    const event = authorizerEvent(await query());
    // Act
    const result = await handler(event);
    // Assess
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny', Resource: event.methodArn });
    expect(result.context).toBeUndefined();
  });

  it('allows a valid token for one of its rooms and passes the identity in the context', async () => {
    // Prepare
    const event = authorizerEvent({ classRoomId: 'r2', token: await sign(valid) });
    // Act
    const result = await handler(event);
    // Assess
    expect(result.principalId).toBe('u1');
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: event.methodArn });
    expect(result.context).toEqual({ userId: 'u1', name: 'Ann', role: 'teacher', classRoomId: 'r2' });
  });

  it('defaults name to the user id and role to student', async () => {
    // Prepare
    const event = authorizerEvent({ classRoomId: 'r1', token: await sign({ sub: 'u2', rooms: ['r1'] }) });
    // Act
    const result = await handler(event);
    // Assess
    expect(result.context).toEqual({ userId: 'u2', name: 'u2', role: 'student', classRoomId: 'r1' });
  });
});

// As deployed by default: the HS256 secret read from Secrets Manager (moto here) through JWT_SECRET_ARN, by the
// reader the authorizer loads from the layer only in that case.
const secretArnSkip =
  motoUnavailable() ??
  (testClusterUrl() || process.env.TEST_STORE === 'dynamodb'
    ? 'the authorizer touches no store: it runs once, in the handlers project'
    : undefined);

describe('Function: authorizer, secret from Secrets Manager (JWT_SECRET_ARN)', () => {
  if (secretArnSkip) {
    it(`skipped: reads its secret through JWT_SECRET_ARN (${secretArnSkip})`, () => {
      console.warn(`test/handlers/authorizer.test.ts: JWT_SECRET_ARN tests skipped: ${secretArnSkip}`);
    });
    return;
  }
  const STORED = 'secret-stored-in-secrets-manager-0123456789';
  const saved = { ...process.env };
  let moto: MotoServer;
  let fromArn: Handler;

  beforeAll(async () => {
    moto = await startMoto();
    const client = new SecretsManagerClient({ endpoint: moto.endpoint });
    const { ARN } = await client.send(
      new CreateSecretCommand({ Name: 'authorizer-test-jwt', SecretString: STORED }),
    );
    client.destroy();
    delete process.env.JWT_SECRET;
    process.env.JWT_SECRET_ARN = ARN;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = moto.endpoint;
    await jest.isolateModulesAsync(async () => {
      fromArn = (await import('../../functions/authorizer/index')).handler as unknown as Handler;
    });
  }, 30_000);

  afterAll(async () => {
    process.env = saved;
    await moto?.stop();
  });

  it('allows a token signed with the stored secret', async () => {
    // Prepare
    const event = authorizerEvent({ classRoomId: 'r1', token: await sign(valid, { secret: STORED }) });
    // Act
    const result = await fromArn(event);
    // Assess
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: event.methodArn });
    expect(result.context).toEqual({ userId: 'u1', name: 'Ann', role: 'teacher', classRoomId: 'r1' });
  });

  it('refuses a token signed with another secret with Unauthorized (401)', async () => {
    // Prepare
    const event = authorizerEvent({ classRoomId: 'r1', token: await sign(valid) });
    // Act
    const outcome = fromArn(event);
    // Assess
    await expect(outcome).rejects.toThrow(/^Unauthorized$/);
  });
});
