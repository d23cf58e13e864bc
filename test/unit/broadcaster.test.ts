import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { BackoffPolicy } from '../../layers/shared/src/backoff';
import { Broadcaster, classifyPostError, FrameTooLargeError } from '../../layers/shared/src/broadcaster';
import {
  endpointFor,
  guardedPoster,
  isHttpAnswer,
  isTransportFault,
  type ManagementApi,
} from '../../layers/shared/src/management-api';
import { MAX_OUTBOUND_FRAME_BYTES } from '../../layers/shared/src/protocol';

/** An error shaped like the SDK's service exceptions. */
function sdkError(status: number | undefined, name = 'ServiceException'): Error {
  const error = new Error(name) as Error & { $metadata: { httpStatusCode?: number } };
  error.name = name;
  error.$metadata = status === undefined ? {} : { httpStatusCode: status };
  return error;
}

const tick = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms));

/** A scripted management API: per connection id, the errors of the next posts (then success). */
class FakeApi implements ManagementApi {
  readonly posts: { connectionId: string; body: string }[] = [];
  readonly removed: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly scripts = new Map<string, unknown[]>();
  private readonly alwaysFail = new Map<string, unknown>();
  private readonly removeErrors = new Map<string, unknown>();

  constructor(private readonly delayMs = 0) {}

  script(connectionId: string, ...errors: unknown[]): this {
    this.scripts.set(connectionId, errors);
    return this;
  }

  always(connectionId: string, error: unknown): this {
    this.alwaysFail.set(connectionId, error);
    return this;
  }

  failRemove(connectionId: string, error: unknown): this {
    this.removeErrors.set(connectionId, error);
    return this;
  }

  async post(connectionId: string, data: Uint8Array): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await tick(this.delayMs);
      this.posts.push({ connectionId, body: Buffer.from(data).toString('utf8') });
      if (this.alwaysFail.has(connectionId)) throw this.alwaysFail.get(connectionId);
      const next = this.scripts.get(connectionId)?.shift();
      if (next !== undefined) throw next;
    } finally {
      this.inFlight--;
    }
  }

  async remove(connectionId: string): Promise<void> {
    if (this.removeErrors.has(connectionId)) throw this.removeErrors.get(connectionId);
    this.removed.push(connectionId);
  }

  postsTo(connectionId: string): number {
    return this.posts.filter((p) => p.connectionId === connectionId).length;
  }
}

const fast: BackoffPolicy = { baseMs: 2, capMs: 4, maxAttempts: 6, reserveMs: 500 };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);

describe('Function: classifyPostError', () => {
  it.each([
    ['410', sdkError(410, 'GoneException'), 'gone'],
    ['GoneException without a status', sdkError(undefined, 'GoneException'), 'gone'],
    ['410 with another name', sdkError(410), 'gone'],
    ['429', sdkError(429, 'TooManyRequestsException'), 'retry'],
    ['LimitExceededException', sdkError(undefined, 'LimitExceededException'), 'retry'],
    ['LimitExceededException with 400', sdkError(400, 'LimitExceededException'), 'retry'],
    ['ThrottlingException', sdkError(400, 'ThrottlingException'), 'retry'],
    ['500', sdkError(500, 'InternalServerError'), 'retry'],
    ['503', sdkError(503, 'ServiceUnavailable'), 'retry'],
    [
      'no status (network reset)',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      'retry',
    ],
    ['undefined', undefined, 'retry'],
    ['400', sdkError(400, 'BadRequestException'), 'fatal'],
    ['403', sdkError(403, 'ForbiddenException'), 'fatal'],
    ['413', sdkError(413, 'PayloadTooLargeException'), 'fatal'],
  ])('classifies %s', (_case, error, expected) => {
    // Prepare & Act
    const kind = classifyPostError(error);

    // Assess
    expect(kind).toBe(expected);
  });
});

describe('Function: isHttpAnswer', () => {
  it.each([
    ['an SDK error with a status', sdkError(500), true],
    ['a 410', sdkError(410, 'GoneException'), true],
    ['a reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), false],
    ['an SDK error without a status', sdkError(undefined, 'TimeoutError'), false],
    ['a TypeError', new TypeError('x is not a function'), false],
    ['undefined', undefined, false],
  ])('%s: %s', (_case, error, expected) => {
    expect(isHttpAnswer(error)).toBe(expected);
  });
});

describe('Function: isTransportFault', () => {
  const coded = (code: string, base: Error = new Error(code)) => Object.assign(base, { code });
  it.each([
    ['ECONNRESET', coded('ECONNRESET'), true],
    ['EPIPE', coded('EPIPE'), true],
    ['EAI_AGAIN', coded('EAI_AGAIN'), true],
    ['the handler TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), true],
    ['a TypeError', new TypeError('sign is not a function'), false],
    ['a TypeError with a system code', coded('ECONNRESET', new TypeError('x')), false],
    ['a Node ERR_ code', coded('ERR_INVALID_ARG_TYPE'), false],
    ['a plain Error', new Error('the request handler returned no HTTP status'), false],
    ['a non-Error', { code: 'ECONNRESET' }, false],
  ])('%s: %s', (_case, error, expected) => {
    expect(isTransportFault(error)).toBe(expected);
  });
});

/**
 * guardedPoster's rule over a stand-in client (no network): `direct` scripts what the client's request
 * handler does with the direct path's requests, `command` what client.send does.
 */
describe('Function: guardedPoster (no network)', () => {
  /** 'ok', an HTTP status the endpoint answers, or an error thrown. */
  type Outcome = 'ok' | number | Error;
  function standIn(direct: () => Outcome, command: () => Outcome) {
    const log: string[] = [];
    const run = async (path: string, id: string, next: () => Outcome) => {
      log.push(`${path} ${id}`);
      await tick();
      const outcome = next();
      if (outcome instanceof Error) throw outcome;
      return outcome === 'ok' ? 200 : outcome;
    };
    const client = {
      config: {
        signer: async () => ({ sign: async (request: unknown) => request }),
        requestHandler: {
          handle: async (request: { path: string }) => ({
            response: {
              statusCode: await run('direct', request.path.split('/').pop() ?? '', direct),
              headers: {},
            },
          }),
        },
      },
      send: async (sent: { input: { ConnectionId: string } }) => {
        const status = await run('command', sent.input.ConnectionId, command);
        if (status >= 300) throw sdkError(status);
      },
    };
    const warnings: string[] = [];
    const post = guardedPoster(client as unknown as ApiGatewayManagementApiClient, 'https://x/prod', (m) => {
      warnings.push(m);
    });
    return { post, log, warnings };
  }
  const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const attempt = (p: Promise<void>) =>
    p.then(
      () => 'delivered',
      (e: unknown) => classifyPostError(e),
    );

  it('a direct error without an HTTP answer, the command delivering: switch for good, one warning', async () => {
    // Prepare
    const { post, log, warnings } = standIn(
      () => new TypeError('broken'),
      () => 'ok',
    );
    // Act
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => attempt(post(id, Buffer.from(id)))));
    outcomes.push(await attempt(post('d', Buffer.from('d'))));
    // Assess: the three in flight together each resent once; the next straight through the command.
    expect(outcomes).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(log.filter((l) => l.startsWith('direct')).sort()).toEqual(['direct a', 'direct b', 'direct c']);
    expect(log.filter((l) => l.startsWith('command')).sort()).toEqual([
      'command a',
      'command b',
      'command c',
      'command d',
    ]);
    expect(warnings).toHaveLength(1);
  });

  it('the command answering with an HTTP error also switches; that post gets its outcome', async () => {
    const commands = [429];
    const { post, warnings } = standIn(
      () => new Error('no status'),
      () => commands.shift() ?? 'ok',
    );
    expect(await attempt(post('a', Buffer.from('a')))).toBe('retry');
    expect(await attempt(post('a', Buffer.from('a')))).toBe('delivered');
    expect(warnings).toHaveLength(1);
  });

  it('both paths without an answer: a network fault, direct path kept, no warning', async () => {
    const { post, log, warnings } = standIn(reset, reset);
    expect(await attempt(post('a', Buffer.from('a')))).toBe('retry');
    expect(await attempt(post('b', Buffer.from('b')))).toBe('retry');
    expect(log).toEqual(['direct a', 'command a', 'direct b', 'command b']);
    expect(warnings).toEqual([]);
  });

  it('a reset after the direct path has delivered: resent through the command, direct path kept', async () => {
    const directs: Outcome[] = ['ok', reset()];
    const { post, log, warnings } = standIn(
      () => directs.shift() ?? 'ok',
      () => 'ok',
    );
    for (const id of ['a', 'b', 'c']) expect(await attempt(post(id, Buffer.from(id)))).toBe('delivered');
    expect(log).toEqual(['direct a', 'direct b', 'command b', 'direct c']);
    expect(warnings).toEqual([]);
  });

  it('an HTTP answer to the direct post is its outcome (no resend, no switch)', async () => {
    const { post, log, warnings } = standIn(
      () => 410,
      () => 'ok',
    );
    expect(await attempt(post('a', Buffer.from('a')))).toBe('gone');
    expect(log).toEqual(['direct a']);
    expect(warnings).toEqual([]);
  });
});

describe('Function: endpointFor', () => {
  it('uses the configured endpoint when there is one', () => {
    // Prepare & Act
    const endpoint = endpointFor('abc.execute-api.eu-west-1.amazonaws.com', 'prod', 'http://127.0.0.1:3001');

    // Assess
    expect(endpoint).toBe('http://127.0.0.1:3001');
  });

  it.each([
    ['abc.execute-api.eu-west-1.amazonaws.com', 'https://abc.execute-api.eu-west-1.amazonaws.com/prod'],
    ['ws.example.com', 'https://ws.example.com/prod'],
    ['127.0.0.1:3001', 'http://127.0.0.1:3001/prod'],
    ['127.0.0.1', 'http://127.0.0.1/prod'],
    ['localhost:3001', 'http://localhost:3001/prod'],
    ['localhost', 'http://localhost/prod'],
  ])('builds the endpoint from the request for %s', (domainName, expected) => {
    // Prepare & Act
    const endpoint = endpointFor(domainName, 'prod', '');

    // Assess
    expect(endpoint).toBe(expected);
  });
});

describe('Class: Broadcaster', () => {
  describe('Method: send', () => {
    it('throws FrameTooLargeError before posting anything', async () => {
      // Prepare
      const api = new FakeApi();
      const broadcaster = new Broadcaster(api, { backoff: fast });
      const frame = 'x'.repeat(MAX_OUTBOUND_FRAME_BYTES + 1);

      // Act & Assess
      await expect(broadcaster.send(ids(3), frame)).rejects.toBeInstanceOf(FrameTooLargeError);
      expect(api.posts).toHaveLength(0);
    });

    it('measures the frame in UTF-8 bytes', async () => {
      // Prepare
      const api = new FakeApi();
      const broadcaster = new Broadcaster(api, { backoff: fast });
      const frame = 'é'.repeat(MAX_OUTBOUND_FRAME_BYTES / 2 + 1);

      // Act & Assess
      await expect(broadcaster.send(ids(1), frame)).rejects.toMatchObject({
        name: 'FrameTooLargeError',
        bytes: MAX_OUTBOUND_FRAME_BYTES + 2,
      });
      expect(api.posts).toHaveLength(0);
    });

    it('delivers a frame of exactly the limit', async () => {
      // Prepare
      const api = new FakeApi();
      const broadcaster = new Broadcaster(api, { backoff: fast });
      const frame = 'x'.repeat(MAX_OUTBOUND_FRAME_BYTES);

      // Act
      const result = await broadcaster.send(['a'], frame);

      // Assess
      expect(result.delivered).toEqual(['a']);
    });

    it('returns an empty result for no connections', async () => {
      // Prepare
      const api = new FakeApi();
      const broadcaster = new Broadcaster(api);

      // Act
      const result = await broadcaster.send([], '{}');

      // Assess
      expect(result).toEqual({ delivered: [], gone: [], failed: [], retries: 0 });
    });

    it('isolates a gone connection and retries a throttled one', async () => {
      // Prepare
      const api = new FakeApi()
        .always('c42', sdkError(410, 'GoneException'))
        .script('c7', sdkError(429, 'TooManyRequestsException'));
      const broadcaster = new Broadcaster(api, { backoff: fast, remainingMs: () => 30_000 });
      const frame = JSON.stringify({ type: 'message', data: 'hi' });

      // Act
      const result = await broadcaster.send(ids(100), frame);

      // Assess
      expect(result.delivered).toHaveLength(99);
      expect(result.delivered).toContain('c7');
      expect(result.gone).toEqual(['c42']);
      expect(result.failed).toEqual([]);
      expect(result.retries).toBe(1);
      expect(api.postsTo('c7')).toBe(2);
      expect(api.postsTo('c42')).toBe(1);
      expect(new Set(api.posts.map((p) => p.body))).toEqual(new Set([frame]));
    });

    it('never has more posts in flight than the concurrency bound', async () => {
      // Prepare
      const api = new FakeApi(2);
      const broadcaster = new Broadcaster(api, { concurrency: 5, backoff: fast });

      // Act
      const result = await broadcaster.send(ids(40), '{}');

      // Assess
      expect(result.delivered).toHaveLength(40);
      expect(api.maxInFlight).toBe(5);
    });

    it('does not retry a fatal error', async () => {
      // Prepare
      const api = new FakeApi().always('c1', sdkError(403, 'ForbiddenException'));
      const broadcaster = new Broadcaster(api, { backoff: fast });

      // Act
      const result = await broadcaster.send(ids(3), '{}');

      // Assess
      expect(result).toEqual({ delivered: ['c0', 'c2'], gone: [], failed: ['c1'], retries: 0 });
      expect(api.postsTo('c1')).toBe(1);
    });

    it('gives up after maxAttempts', async () => {
      // Prepare
      const api = new FakeApi().always('c0', sdkError(500));
      const broadcaster = new Broadcaster(api, { backoff: fast, remainingMs: () => 30_000 });

      // Act
      const result = await broadcaster.send(['c0'], '{}');

      // Assess
      expect(result).toEqual({ delivered: [], gone: [], failed: ['c0'], retries: fast.maxAttempts - 1 });
      expect(api.postsTo('c0')).toBe(fast.maxAttempts);
    });

    it('does not retry when the Lambda has too little time left', async () => {
      // Prepare
      const api = new FakeApi().script('c0', sdkError(429));
      const broadcaster = new Broadcaster(api, { backoff: fast, remainingMs: () => fast.reserveMs });

      // Act
      const result = await broadcaster.send(['c0'], '{}');

      // Assess
      expect(result).toEqual({ delivered: [], gone: [], failed: ['c0'], retries: 0 });
      expect(api.postsTo('c0')).toBe(1);
    });

    it('stops retrying once the remaining time runs low', async () => {
      // Prepare
      const api = new FakeApi().always('c0', sdkError(503));
      const remaining = [10_000, 10_000, 100];
      const broadcaster = new Broadcaster(api, {
        backoff: fast,
        remainingMs: () => remaining.shift() ?? 0,
      });

      // Act
      const result = await broadcaster.send(['c0'], '{}');

      // Assess
      expect(result).toEqual({ delivered: [], gone: [], failed: ['c0'], retries: 2 });
      expect(api.postsTo('c0')).toBe(3);
    });
  });

  describe('Method: sendSequence', () => {
    it('sends every frame in order', async () => {
      // Prepare
      const api = new FakeApi();
      const broadcaster = new Broadcaster(api, { backoff: fast });

      // Act
      const outcome = await broadcaster.sendSequence('c0', ['1', '2', '3']);

      // Assess
      expect(outcome).toBe('delivered');
      expect(api.posts.map((p) => p.body)).toEqual(['1', '2', '3']);
    });

    it('stops at the first frame that fails', async () => {
      // Prepare
      const api = new FakeApi().script('c0', undefined, sdkError(403));
      const broadcaster = new Broadcaster(api, { backoff: fast });

      // Act
      const outcome = await broadcaster.sendSequence('c0', ['1', '2', '3']);

      // Assess
      expect(outcome).toBe('failed');
      expect(api.posts.map((p) => p.body)).toEqual(['1', '2']);
    });

    it('reports a gone connection without sending the rest', async () => {
      // Prepare
      const api = new FakeApi().always('c0', sdkError(410, 'GoneException'));
      const broadcaster = new Broadcaster(api, { backoff: fast });

      // Act
      const outcome = await broadcaster.sendSequence('c0', ['1', '2']);

      // Assess
      expect(outcome).toBe('gone');
      expect(api.posts).toHaveLength(1);
    });

    it('retries a throttled frame and carries on', async () => {
      // Prepare
      const api = new FakeApi().script('c0', undefined, sdkError(429));
      const broadcaster = new Broadcaster(api, { backoff: fast, remainingMs: () => 30_000 });

      // Act
      const outcome = await broadcaster.sendSequence('c0', ['1', '2', '3']);

      // Assess
      expect(outcome).toBe('delivered');
      expect(api.posts.map((p) => p.body)).toEqual(['1', '2', '2', '3']);
    });

    it('throws FrameTooLargeError for an oversize frame', async () => {
      // Prepare
      const api = new FakeApi();
      const broadcaster = new Broadcaster(api, { backoff: fast });

      // Act & Assess
      await expect(
        broadcaster.sendSequence('c0', ['x'.repeat(MAX_OUTBOUND_FRAME_BYTES + 1)]),
      ).rejects.toBeInstanceOf(FrameTooLargeError);
      expect(api.posts).toHaveLength(0);
    });
  });

  describe('Method: disconnect', () => {
    it('removes every connection and ignores those already gone', async () => {
      // Prepare
      const api = new FakeApi().failRemove('c1', sdkError(410, 'GoneException'));
      const broadcaster = new Broadcaster(api);

      // Act
      await broadcaster.disconnect(ids(3));

      // Assess
      expect(api.removed.sort()).toEqual(['c0', 'c2']);
    });

    it('rethrows any other error', async () => {
      // Prepare
      const api = new FakeApi().failRemove('c1', sdkError(403, 'ForbiddenException'));
      const broadcaster = new Broadcaster(api);

      // Act & Assess
      await expect(broadcaster.disconnect(ids(3))).rejects.toMatchObject({ name: 'ForbiddenException' });
    });
  });
});
