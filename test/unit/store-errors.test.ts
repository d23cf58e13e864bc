import { dynamoError } from '../../layers/shared/src/dynamo-store';
import { StoreUnavailableError, storeError } from '../../layers/shared/src/room-store';

/** A Redis server reply, as ioredis reports it (its class is redis-errors' ReplyError). */
function reply(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

describe('Function: storeError', () => {
  it.each([
    ['a full cache', reply("OOM command not allowed when used memory > 'maxmemory'.")],
    ['a demoted primary', reply("READONLY You can't write against a read only replica. script: 8b2a")],
    [
      'a WAIT cut short by a demotion',
      reply('UNBLOCKED force unblock from blocking operation, instance state changed'),
    ],
    ['a node still loading', reply('LOADING Redis is loading the dataset in memory')],
    ['a cluster without a quorum', reply('CLUSTERDOWN The cluster is down')],
    ['a slot being migrated', reply('TRYAGAIN Multiple keys request during rehashing of slot')],
    ['a redirect still not followed after a slot map refresh', reply('MOVED 4882 127.0.0.1:30002')],
    ['a slot half-moved past the retries', reply('ASK 9073 127.0.0.1:30003')],
    ['a lost connection', new Error('Connection is closed.')],
    ['a command timeout', new Error('Command timed out')],
  ])('makes %s a StoreUnavailableError (the client may resend)', (_case, error) => {
    // Prepare & Act
    const mapped = storeError(error);

    // Assess
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect((mapped as Error).cause).toBe(error);
  });

  it.each([
    ['a script bug', reply('ERR user_script:12: attempt to compare nil with number')],
    ['a wrong type', reply('WRONGTYPE Operation against a key holding the wrong kind of value')],
  ])('leaves %s as it is (internal)', (_case, error) => {
    // Prepare & Act & Assess
    expect(storeError(error)).toBe(error);
  });
});

/** An error as the DynamoDB client reports a service answer (its name, and the HTTP status in $metadata). */
function service(name: string, httpStatusCode: number): Error {
  const error = new Error(`${name} (test)`);
  error.name = name;
  return Object.assign(error, { $metadata: { httpStatusCode } });
}

describe('Function: dynamoError', () => {
  it.each([
    ['throttling', service('ThrottlingException', 400)],
    ['provisioned throughput exceeded', service('ProvisionedThroughputExceededException', 400)],
    ['the account request limit', service('RequestLimitExceeded', 400)],
    ['an internal server error', service('InternalServerError', 500)],
    ['an unavailable service', service('ServiceUnavailable', 503)],
    ['any other 5xx', service('UnknownError', 502)],
    [
      'a refused connection (no HTTP answer)',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    ],
    ['a client timeout', Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })],
  ])('makes %s a StoreUnavailableError (nothing acknowledged: resend)', (_case, error) => {
    // Prepare & Act
    const mapped = dynamoError(error);

    // Assess
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect((mapped as Error).cause).toBe(error);
  });

  it.each([
    ['a validation error (a bug)', service('ValidationException', 400)],
    ['a missing table (misconfiguration)', service('ResourceNotFoundException', 400)],
    ['access denied (IAM)', service('AccessDeniedException', 400)],
    ['a failed condition (the store handles it)', service('ConditionalCheckFailedException', 400)],
  ])('leaves %s as it is (internal)', (_case, error) => {
    // Prepare & Act & Assess
    expect(dynamoError(error)).toBe(error);
  });
});
