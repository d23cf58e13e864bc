/**
 * The layer's post path (fastPoster: the client's signer and request handler, without the command's
 * middleware stack) sends what PostToConnectionCommand sends, with a SigV4 signature that an independent
 * verifier (written here from the SigV4 rules, checked first on the SDK's own request) accepts, and its
 * errors classify like the SDK's.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { BackoffPolicy } from '../../layers/shared/src/backoff';
import { Broadcaster, classifyPostError } from '../../layers/shared/src/broadcaster';
import {
  fastPoster,
  guardedPoster,
  hasPostParts,
  managementApi,
  managementClient,
} from '../../layers/shared/src/management-api';
import { logger } from '../../layers/shared/src/observability';

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'secret/EXAMPLE+key',
  sessionToken: 'tok',
};
const REGION = 'eu-west-1';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const uriEscape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Verifies a received request's SigV4 Authorization (execute-api rules: the path is escaped again). */
function verifySigV4(request: Captured): { ok: boolean; signedHeaders: string[] } {
  const auth = String(request.headers.authorization ?? '');
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!match) return { ok: false, signedHeaders: [] };
  const [, accessKey, day, region, service, signedList, signature] = match as unknown as string[];
  const signedHeaders = (signedList as string).split(';');
  const [path = '', query = ''] = request.url.split('?');
  const canonicalUri = path
    .split('/')
    .map((segment) => uriEscape(segment))
    .join('/');
  const canonicalHeaders = signedHeaders
    .map(
      (name) =>
        `${name}:${String(request.headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalRequest = [
    request.method,
    canonicalUri,
    query,
    canonicalHeaders,
    signedList,
    sha256(request.body),
  ].join('\n');
  const amzDate = String(request.headers['x-amz-date']);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(
    hmac(
      hmac(hmac(`AWS4${CREDENTIALS.secretAccessKey}`, day as string), region as string),
      service as string,
    ),
    'aws4_request',
  );
  const expected = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ok: accessKey === CREDENTIALS.accessKeyId && region === REGION && expected === signature,
    signedHeaders,
  };
}

let server: Server;
let endpoint = '';
const captured: Captured[] = [];
let answer: { status: number; errorType?: string } = { status: 200 };
/** Answers for the next requests, in order, before `answer` applies again. */
const script: { status: number; errorType?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      const a = script.shift() ?? answer;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (a.errorType) headers['x-amzn-errortype'] = `${a.errorType}:http://internal.amazon.com/`;
      res.writeHead(a.status, headers);
      res.end(a.status === 200 ? '' : JSON.stringify({ message: 'scripted' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  captured.length = 0;
  script.length = 0;
  answer = { status: 200 };
});

const client = () =>
  new ApiGatewayManagementApiClient({ endpoint, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });

describe('the layer posts as PostToConnectionCommand does', () => {
  it('sends the same method, path, body and content headers, with a valid SigV4 signature', async () => {
    // Prepare
    const id = "AbC=d+e/f!'()*";
    const data = Buffer.from('{"type":"message","text":"héllo"}', 'utf8');
    const sdk = client();
    // Act
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
    await fastPoster(sdk, endpoint)(id, data);
    // Assess
    const [viaSdk, viaLayer] = captured as [Captured, Captured];
    expect(viaLayer.method).toBe(viaSdk.method);
    expect(viaLayer.url).toBe(viaSdk.url);
    expect(viaLayer.body.equals(viaSdk.body)).toBe(true);
    for (const name of [
      'host',
      'content-type',
      'content-length',
      'x-amz-content-sha256',
      'x-amz-security-token',
    ])
      expect([name, viaLayer.headers[name]]).toEqual([name, viaSdk.headers[name]]);
    const sdkCheck = verifySigV4(viaSdk);
    expect(sdkCheck.ok).toBe(true); // the verifier agrees with the SDK's signer
    const layerCheck = verifySigV4(viaLayer);
    expect(layerCheck.ok).toBe(true);
    expect(layerCheck.signedHeaders).toEqual(
      expect.arrayContaining(['host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token']),
    );
  });

  it('keeps the endpoint path and signs each post (the cached client of the layer too)', async () => {
    // Prepare
    const post = fastPoster(managementClient(`${endpoint}/`), `${endpoint}/`);
    // Act
    await post('one', Buffer.from('a'));
    await post('two', Buffer.from('a'));
    // Assess
    expect(captured.map((c) => c.url)).toEqual(['/prod/@connections/one', '/prod/@connections/two']);
    expect(captured[0]?.headers.authorization).not.toEqual(captured[1]?.headers.authorization);
  });

  it.each([
    [410, 'GoneException', 'gone'],
    [429, 'LimitExceededException', 'retry'],
    [500, 'InternalServerErrorException', 'retry'],
    [403, 'ForbiddenException', 'fatal'],
    [413, undefined, 'fatal'],
  ] as const)(
    'an answer %i becomes an error the SDK would give (%s), classified %s',
    async (status, type, kind) => {
      // Prepare
      answer = { status, errorType: type };
      const sdk = client();
      // Act
      const viaSdk = (await sdk
        .send(new PostToConnectionCommand({ ConnectionId: 'x', Data: Buffer.from('a') }))
        .then(
          () => undefined,
          (e: unknown) => e,
        )) as (Error & { $metadata: { httpStatusCode?: number } }) | undefined;
      const viaLayer = await fastPoster(sdk, endpoint)('x', Buffer.from('a')).catch(
        (e: unknown) => e as Error & { $metadata: { httpStatusCode?: number } },
      );
      // Assess
      expect(viaLayer).toBeInstanceOf(Error);
      expect(viaLayer?.$metadata.httpStatusCode).toBe(status);
      expect(viaLayer?.$metadata.httpStatusCode).toBe(viaSdk?.$metadata.httpStatusCode);
      if (type) expect(viaLayer?.name).toBe(viaSdk?.name);
      expect(classifyPostError(viaLayer)).toBe(kind);
      expect(classifyPostError(viaLayer)).toBe(classifyPostError(viaSdk));
    },
  );

  it('reports a refused connection as retryable, as the SDK does', async () => {
    // Prepare
    const dead = 'http://127.0.0.1:9/prod';
    const sdk = new ApiGatewayManagementApiClient({
      endpoint: dead,
      region: REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    // Act
    const error = await fastPoster(sdk, dead)('x', Buffer.from('a')).catch((e: unknown) => e);
    // Assess
    expect(classifyPostError(error)).toBe('retry');
  });
});

describe('Function: guardedPoster', () => {
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
  };
  beforeEach(() => {
    warnings.length = 0;
  });

  it('posts directly while the endpoint accepts the signature', async () => {
    const post = guardedPoster(client(), endpoint, warn);
    await post('one', Buffer.from('a'));
    await post('two', Buffer.from('a'));
    expect(captured.map((c) => c.url)).toEqual(['/prod/@connections/one', '/prod/@connections/two']);
    expect(warnings).toEqual([]);
  });

  it('after a refused signature, resends that post through PostToConnectionCommand and keeps that path', async () => {
    // Prepare: the first request (the direct post) is refused, everything after it accepted.
    script.push({ status: 403, errorType: 'InvalidSignatureException' });
    const post = guardedPoster(client(), endpoint, warn);
    // Act
    await post('one', Buffer.from('a'));
    await post('two', Buffer.from('b'));
    // Assess: one refused post, then that post again and the next one, all to the same path; one warning.
    expect(captured.map((c) => c.url)).toEqual([
      '/prod/@connections/one',
      '/prod/@connections/one',
      '/prod/@connections/two',
    ]);
    expect(captured.map((c) => c.body.toString())).toEqual(['a', 'a', 'b']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/using PostToConnectionCommand/);
  });

  it('does not fall back on other refusals: a 403 ForbiddenException stays a failed post', async () => {
    answer = { status: 403, errorType: 'ForbiddenException' };
    const error = await guardedPoster(
      client(),
      endpoint,
      warn,
    )('x', Buffer.from('a')).catch((e: unknown) => e);
    expect(classifyPostError(error)).toBe('fatal');
    expect(captured).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('uses PostToConnectionCommand when the client has no signer or request handler to post with', async () => {
    // Prepare: a client whose config lacks the parts (as a future SDK might), sending through the SDK.
    const sdk = client();
    const bare = { config: {}, send: sdk.send.bind(sdk) } as unknown as ApiGatewayManagementApiClient;
    expect(hasPostParts(bare)).toBe(false);
    expect(hasPostParts(sdk)).toBe(true);
    // Act
    await guardedPoster(bare, endpoint, warn)('x', Buffer.from('a'));
    // Assess
    expect(captured.map((c) => c.url)).toEqual(['/prod/@connections/x']);
    expect(verifySigV4(captured[0] as Captured).ok).toBe(true);
    expect(warnings).toHaveLength(1);
  });
});

/**
 * A future SDK may change the internals the direct path uses. These break them the way such a change
 * would, for the direct path's calls only (the command keeps working, as it would in that SDK), told
 * apart by the SDK's invocation id header, which the command's middleware adds and the direct post lacks.
 */
describe('Function: guardedPoster, when an SDK change breaks the direct path', () => {
  const warnings: { message: string; detail: Record<string, unknown> }[] = [];
  const warn = (message: string, detail: Record<string, unknown>) => {
    warnings.push({ message, detail });
  };
  beforeEach(() => {
    warnings.length = 0;
  });

  type Request = { headers: Record<string, string> };
  type Sign = (request: Request, options?: unknown) => Promise<unknown>;
  type Handle = (request: Request, options?: unknown) => Promise<unknown>;
  interface Parts {
    signer: (authScheme?: unknown) => Promise<{ sign: Sign }>;
    requestHandler: { handle: Handle };
  }
  const partsOf = (sdk: ApiGatewayManagementApiClient) => sdk.config as unknown as Parts;
  /** Which path built a request: the command adds the SDK's invocation id, the direct post does not. */
  const isDirect = (request: Request) => request.headers['amz-sdk-invocation-id'] === undefined;
  const viaOf = (c: Captured) => (c.headers['amz-sdk-invocation-id'] === undefined ? 'direct' : 'command');

  /** The signer's `sign` fails for the direct path's requests, as `broken` says. */
  function breakSigner(sdk: ApiGatewayManagementApiClient, broken: () => Promise<unknown>) {
    const parts = partsOf(sdk);
    const original = parts.signer.bind(parts);
    const calls = { direct: 0 };
    parts.signer = async (authScheme) => {
      const signer = await original(authScheme);
      return {
        sign: (request, options) => {
          if (!isDirect(request)) return signer.sign(request, options);
          calls.direct++;
          return broken();
        },
      };
    };
    return calls;
  }

  /** Every request of `sdk` goes through `intercept`, which answers it itself or sends it (`send`). */
  function interceptRequests(
    sdk: ApiGatewayManagementApiClient,
    intercept: (request: Request, send: () => Promise<unknown>) => Promise<unknown>,
  ): void {
    const handler = partsOf(sdk).requestHandler;
    const original = handler.handle.bind(handler);
    handler.handle = async (request, options) => intercept(request, () => original(request, options));
  }

  /** The request handler answers the direct path's requests with `broken` (not sending them). */
  function breakHandler(sdk: ApiGatewayManagementApiClient, broken: () => Promise<unknown>) {
    const calls = { direct: 0 };
    interceptRequests(sdk, async (request, send) => {
      if (!isDirect(request)) return send();
      calls.direct++;
      return broken();
    });
    return calls;
  }

  const fastBackoff: BackoffPolicy = { baseMs: 2, capMs: 4, maxAttempts: 6, reserveMs: 500 };
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
  const broadcasterOver = (sdk: ApiGatewayManagementApiClient) =>
    new Broadcaster(
      { post: guardedPoster(sdk, endpoint, warn), remove: async () => undefined },
      { backoff: fastBackoff, remainingMs: () => 30_000 },
    );

  const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const cases: [string, (sdk: ApiGatewayManagementApiClient) => { direct: number }][] = [
    [
      'a signer that throws a TypeError',
      (sdk) =>
        breakSigner(sdk, () => {
          throw new TypeError("Cannot read properties of undefined (reading 'service')");
        }),
    ],
    [
      'a signer that rejects',
      (sdk) => breakSigner(sdk, async () => Promise.reject(new Error('signing service required'))),
    ],
    [
      'a request handler that throws a TypeError',
      (sdk) =>
        breakHandler(sdk, () => {
          throw new TypeError('request.clone is not a function');
        }),
    ],
    [
      'a request handler that answers without a statusCode',
      (sdk) => breakHandler(sdk, async () => ({ response: { status: 200, headers: {} } })),
    ],
    ['a request handler that answers nothing', (sdk) => breakHandler(sdk, async () => undefined)],
    [
      'a request handler that throws a reset-shaped error',
      (sdk) => breakHandler(sdk, async () => Promise.reject(reset())),
    ],
  ];

  it.each(cases)(
    '%s: every post delivered through PostToConnectionCommand, one warning, no retries',
    async (_case, breakIt) => {
      // Prepare
      const sdk = client();
      const broken = breakIt(sdk);
      const broadcaster = broadcasterOver(sdk);
      const started = Date.now();
      // Act: one fan-out (all 20 direct posts fail together), then another.
      const first = await broadcaster.send(ids(20), '{"n":1}');
      const directAfterFirst = broken.direct;
      const second = await broadcaster.send(ids(20), '{"n":2}');
      // Assess
      for (const result of [first, second]) {
        expect(result.delivered.sort()).toEqual(ids(20).sort());
        expect(result).toMatchObject({ gone: [], failed: [], retries: 0 });
      }
      expect(Date.now() - started).toBeLessThan(5000);
      // Each post reached the endpoint exactly once, through the command.
      const received = captured.map((c) => `${c.url} ${c.body.toString()} ${viaOf(c)}`).sort();
      const expected = ['{"n":1}', '{"n":2}']
        .flatMap((body) => ids(20).map((id) => `/prod/@connections/${id} ${body} command`))
        .sort();
      expect(received).toEqual(expected);
      expect(directAfterFirst).toBe(20);
      expect(broken.direct).toBe(20); // none after the switch
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.message).toMatch(/using PostToConnectionCommand from now on/);
      expect(warnings[0]?.detail.error).toEqual(expect.any(String));
    },
  );

  it("the handlers' managementApi (cached client, logger): a broken request handler, one warning logged", async () => {
    // Prepare: the layer's own cached client for this endpoint, its request handler broken.
    const layerEndpoint = `${endpoint}-layer`;
    const broken = breakHandler(managementClient(layerEndpoint), async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'clone')");
    });
    const logged = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    try {
      const broadcaster = new Broadcaster(managementApi(layerEndpoint), { backoff: fastBackoff });
      // Act
      const results = [
        await broadcaster.send(ids(10), '{"n":1}'),
        await broadcaster.send(ids(10), '{"n":2}'),
      ];
      // Assess
      for (const result of results) expect(result).toMatchObject({ failed: [], gone: [], retries: 0 });
      expect(results.flatMap((r) => r.delivered)).toHaveLength(20);
      expect(captured.filter((c) => viaOf(c) === 'command')).toHaveLength(20);
      expect(broken.direct).toBe(10);
      expect(logged).toHaveBeenCalledTimes(1);
      expect(logged.mock.calls[0]?.[0]).toMatch(/using PostToConnectionCommand from now on/);
    } finally {
      logged.mockRestore();
    }
  });

  it('the post that showed the broken path keeps the outcome the command got (410 is gone)', async () => {
    // Prepare: the direct path is broken; the endpoint answers the command's resend 410.
    const sdk = client();
    breakHandler(sdk, async () => undefined);
    script.push({ status: 410, errorType: 'GoneException' });
    const post = guardedPoster(sdk, endpoint, warn);
    // Act
    const error = await post('left', Buffer.from('a')).catch((e: unknown) => e);
    await post('next', Buffer.from('b'));
    // Assess: an HTTP answer from the endpoint to the command: the direct path is judged broken.
    expect(classifyPostError(error)).toBe('gone');
    expect(captured.map((c) => `${c.url} ${viaOf(c)}`)).toEqual([
      '/prod/@connections/left command',
      '/prod/@connections/next command',
    ]);
    expect(warnings).toHaveLength(1);
  });

  it('a real network fault (the command gets no answer either) keeps the direct path, retried as before', async () => {
    // Prepare: nothing listens there; record which path each request came from.
    const dead = 'http://127.0.0.1:9/prod';
    const sdk = new ApiGatewayManagementApiClient({
      endpoint: dead,
      region: REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    const paths: string[] = [];
    interceptRequests(sdk, async (request, send) => {
      paths.push(isDirect(request) ? 'direct' : 'command');
      return send();
    });
    const post = guardedPoster(sdk, dead, warn);
    // Act
    const errors = [
      await post('x', Buffer.from('a')).catch((e: unknown) => e),
      await post('y', Buffer.from('a')).catch((e: unknown) => e),
    ];
    // Assess: each post tried directly, then once through the command; no verdict, no warning.
    expect(errors.map((e) => classifyPostError(e))).toEqual(['retry', 'retry']);
    expect(paths).toEqual(['direct', 'command', 'direct', 'command']);
    expect(warnings).toEqual([]);
  });

  it('a reset on a direct path that has delivered is a blip: that post resent through the command, the direct path kept', async () => {
    // Prepare: the handler works, but the second direct request meets a reset socket.
    const sdk = client();
    let direct = 0;
    interceptRequests(sdk, async (request, send) => {
      if (isDirect(request) && ++direct === 2) throw reset();
      return send();
    });
    const post = guardedPoster(sdk, endpoint, warn);
    // Act
    for (const id of ['one', 'two', 'three']) await post(id, Buffer.from(id));
    // Assess
    expect(captured.map((c) => `${c.url} ${viaOf(c)}`)).toEqual([
      '/prod/@connections/one direct',
      '/prod/@connections/two command',
      '/prod/@connections/three direct',
    ]);
    expect(warnings).toEqual([]);
  });

  it('a TypeError on a direct path that has delivered still switches (code, not network)', async () => {
    // Prepare: the direct path works for one post, then its handler throws a TypeError.
    const sdk = client();
    let direct = 0;
    interceptRequests(sdk, async (request, send) => {
      if (isDirect(request) && ++direct >= 2) throw new TypeError('x is not a function');
      return send();
    });
    const post = guardedPoster(sdk, endpoint, warn);
    // Act
    for (const id of ['one', 'two', 'three']) await post(id, Buffer.from(id));
    // Assess
    expect(captured.map((c) => `${c.url} ${viaOf(c)}`)).toEqual([
      '/prod/@connections/one direct',
      '/prod/@connections/two command',
      '/prod/@connections/three command',
    ]);
    expect(direct).toBe(2);
    expect(warnings).toHaveLength(1);
  });
});
