/**
 * Third-party fixture `callback-commonjs` (test/fixtures/third-party/callback-commonjs): CommonJS handlers in
 * the callback style (`exports.handler = (event, context, callback)`, no package.json), a REQUEST authorizer on
 * `?token=` (`route.request.querystring.token`), a Deployment + Stage `dev`, no `$default` route. Run with the
 * command line as a user runs it (`npm run emulator -- --template …`) and driven over real WebSockets: Allow
 * with a context, callback('Unauthorized'), Deny, a failing authorizer, no token; `$connect` answering 403,
 * 302 and an error; a two-way route answered through the callback; a post to the caller's own connection through
 * `https://{domainName}/{stage}` with the runtime's SDK from `require`; an unmatched action without `$default`;
 * a failing route; a 40 KB frame; `$disconnect` on close.
 */
import { type Cli, Conformance, copyApp, open, refusal, runCli, until } from './support';

const conformance = new Conformance('callback-commonjs');

describe('third-party app: callback-commonjs (CommonJS, callback style, querystring identity source)', () => {
  const app = copyApp('callback-commonjs');
  let cli: Cli;
  let url: string;

  beforeAll(async () => {
    cli = runCli(['--template', app.template, '--port', '0']);
    url = await cli.ready();
  }, 20_000);
  afterAll(async () => {
    const code = await cli?.stop();
    app.remove();
    expect(code).toBe(0);
  });

  it('serves the stage of its Deployment + Stage (dev); the start-up names the runtime’s SDK', () => {
    const path = new URL(url).pathname;
    conformance.record('stage-from-template', path === '/dev' ? 'the StageName' : path);
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/dev$/);
    expect(cli.output()).toContain(
      'stage dev: the StageName of DevStage (AWS::ApiGatewayV2::Stage of LobbyApi)',
    );
    expect(cli.output()).toMatch(/runtime SDK: client-apigatewaymanagementapi \d+\.\d+\.\d+/);
    expect(cli.output()).toContain('LobbyApi ($request.body.action) at ');
  });

  it('Allow (callback) with a context on a wildcard resource: a two-way route sees it, as strings', async () => {
    const socket = await open(`${url}?token=player-zoe`);
    socket.send({ action: 'echo', text: 'hello' });
    const answer = await socket.json();
    conformance.record(
      'authorizer-callback-allow',
      answer.principalId === 'zoe' && answer.player === 'zoe'
        ? 'opens; principalId and context in later routes'
        : `opens; ${JSON.stringify(answer)}`,
    );
    expect(answer).toEqual({ echo: 'hello', principalId: 'zoe', player: 'zoe', vip: 'false' });
    await socket.close();
  });

  it('callback("Unauthorized") → 401', async () => {
    const refused = await refusal(`${url}?token=stale`);
    conformance.record('authorizer-callback-unauthorized', refused.status);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ message: 'Unauthorized' });
  });

  it('callback(null, Deny policy) → 403', async () => {
    const refused = await refusal(`${url}?token=banned`);
    expect(refused.status).toBe(403);
  });

  it('callback(new Error(…)) → 500, the error in the log', async () => {
    const refused = await refusal(`${url}?token=glitch`);
    expect(refused.status).toBe(500);
    await until(
      () =>
        /authorizer AuthorizerFunction \S+ 500 error \(Error: token service timed out\)/.test(cli.output()),
      'the authorizer’s error',
    );
  });

  it('no ?token= → 401 without invoking the authorizer', async () => {
    const refused = await refusal(`${url}?lobby=main`);
    const skipped = await until(
      () =>
        /authorizer AuthorizerFunction \S+ 401 \(no route\.request\.querystring\.token\) 0ms/.test(
          cli.output(),
        ),
      'the 401 line',
    ).catch(() => false);
    conformance.record(
      'authorizer-missing-identity-source-querystring',
      `${refused.status} (${skipped ? 'not invoked' : 'invoked'})`,
    );
    expect(refused.status).toBe(401);
    expect(skipped).toBe(true);
  });

  it('$connect answering 403 rejects the handshake with 403; no socket opens', async () => {
    const refused = await refusal(`${url}?token=player-al&lobby=closed`);
    conformance.record('connect-returns-4xx', refused.status);
    expect(refused.status).toBe(403);
  });

  it('$connect answering 302 rejects the handshake with 302', async () => {
    const refused = await refusal(`${url}?token=player-al&lobby=old`);
    conformance.record('connect-returns-3xx', refused.status);
    expect(refused.status).toBe(302);
  });

  it('$connect calling back an error → 502, the error in the log', async () => {
    const refused = await refusal(`${url}?token=player-al&lobby=broken`);
    conformance.record('connect-throws', refused.status);
    expect(refused.status).toBe(502);
    await until(
      () =>
        /\$connect ConnectFunction \S+ 502 error \(Error: lobby registry unreachable\)/.test(cli.output()),
      'the $connect error line',
    );
  });

  it('shout posts to the caller’s own connection through https://{domainName}/{stage} (require of the runtime’s SDK)', async () => {
    const socket = await open(`${url}?token=player-max`);
    socket.send({ action: 'shout', text: 'gg' });
    const frame = await socket.next(8000).catch((error: Error) => `nothing: ${error.message}`);
    conformance.record(
      'management-post-domain-name',
      frame === '{"shout":"GG","by":"max"}' ? 'delivered' : frame.slice(0, 120),
    );
    expect(JSON.parse(frame)).toEqual({ shout: 'GG', by: 'max' });
    expect(cli.output()).toMatch(/shout LobbyFunction \S+ 200 \d+ms/);
    await socket.close();
  });

  it('an unmatched action without a $default route answers the Forbidden frame; the socket stays open', async () => {
    const socket = await open(`${url}?token=player-kim`);
    socket.send({ action: 'dance' });
    const frame = await socket.json<Record<string, string>>();
    conformance.record('route-no-match-no-default', `{"message": "${frame.message}", …} frame`);
    expect(frame).toEqual({
      message: 'Forbidden',
      connectionId: expect.any(String),
      requestId: expect.any(String),
    });
    socket.send({ action: 'echo', text: 'still here' });
    expect((await socket.json()).echo).toBe('still here');
    await socket.close();
  });

  it('a route whose callback gets an error answers the Internal server error frame', async () => {
    const socket = await open(`${url}?token=player-lee`);
    socket.send({ action: 'crash' });
    expect(await socket.json()).toEqual({
      message: 'Internal server error',
      connectionId: expect.any(String),
      requestId: expect.any(String),
    });
    await socket.close();
  });

  it('a 40 KB frame closes the socket with 1009 and is not routed', async () => {
    const socket = await open(`${url}?token=player-big`);
    socket.send({ action: 'echo', text: 'x'.repeat(40 * 1024) });
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      socket.closed,
      new Promise<{ code: number; reason: string }>((done) => {
        timer = setTimeout(() => done({ code: 0, reason: 'still open' }), 3000);
      }),
    ]);
    clearTimeout(timer);
    conformance.record('frame-over-32kb', closed.code ? `closed ${closed.code}` : 'delivered');
    expect(closed.code).toBe(1009);
    expect(socket.frames).toEqual([]);
  });

  it('$disconnect runs when the client closes, with its close code', async () => {
    const socket = await open(`${url}?token=player-bye`);
    socket.send({ action: 'echo', text: 'id?' });
    await socket.json();
    socket.ws.close(4001, 'going home');
    await socket.closed;
    const logged = await until(
      () => /left \S+ 4001 going home/.test(cli.output()),
      'the handler’s log',
    ).catch(() => false);
    conformance.record(
      'disconnect-on-close',
      logged ? 'runs, with the client’s code and reason' : 'not seen',
    );
    expect(logged).toBe(true);
    expect(cli.output()).toMatch(/\$disconnect DisconnectFunction \S+ 200 \d+ms/);
  });
});
