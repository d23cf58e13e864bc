/**
 * Third-party fixture `header-authorizer` (test/fixtures/third-party/header-authorizer): ES modules by
 * `"type": "module"` (.js), a REQUEST authorizer whose identity source is a header (`route.request.header.Auth`),
 * a stage `production` with AutoDeploy. Driven over real WebSockets: Allow with a context read back by a later
 * route, Deny, `throw new Error('Unauthorized')`, a returned "Unauthorized" string, a failing authorizer, no
 * header at all; two-way (whoami, $default) and one-way (notify) routes, a throwing route, a plain HTTP GET.
 */
import { Gateway } from '../../../local/gateway';
import { Conformance, copyApp, open, plainGet, refusal } from './support';

const conformance = new Conformance('header-authorizer');

describe('third-party app: header-authorizer (ESM "type": "module", header identity source)', () => {
  const app = copyApp('header-authorizer');
  const logs: string[] = [];
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await Gateway.start({
      templatePath: app.template,
      port: 0,
      apiId: 'notes12345',
      region: 'eu-west-1',
      logger: (line) => logs.push(line),
    });
  });
  afterAll(async () => {
    await gateway?.close();
    app.remove();
  });

  it('serves the template’s stage (production) and logs its origin', () => {
    const path = new URL(gateway.url).pathname;
    conformance.record('stage-from-template', path === '/production' ? 'the StageName' : path);
    expect(gateway.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/production$/);
    expect(logs).toContain('stage production: the StageName of Stage (AWS::ApiGatewayV2::Stage of NotesApi)');
  });

  it('Allow with a context: the socket opens and later routes see principalId and the context', async () => {
    const socket = await open(gateway.url, { Auth: 'allow ann editor' });
    socket.send({ action: 'whoami' });
    const answer = await socket.json<{
      route: string;
      authorizer: Record<string, unknown>;
      domainName: string;
    }>();
    conformance.record(
      'authorizer-allow-context',
      answer.authorizer?.principalId === 'ann' && answer.authorizer?.role === 'editor'
        ? 'opens; principalId and context in later routes'
        : `opens; authorizer ${JSON.stringify(answer.authorizer)}`,
    );
    conformance.record(
      'request-context-domain-name',
      answer.domainName === `${gateway.apiId}.execute-api.eu-west-1.amazonaws.com`
        ? '{apiId}.execute-api.{region}.amazonaws.com'
        : answer.domainName,
    );
    expect(answer.route).toBe('whoami');
    expect(answer.authorizer).toEqual({
      principalId: 'ann',
      user: 'ann',
      role: 'editor',
      level: '3',
      editor: 'true',
    });
    expect(answer.domainName).toBe('notes12345.execute-api.eu-west-1.amazonaws.com');
    await socket.close();
  });

  it('Deny → 403', async () => {
    const refused = await refusal(gateway.url, { Auth: 'deny' });
    conformance.record('authorizer-deny', refused.status);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ message: 'Forbidden' });
  });

  it('throw new Error("Unauthorized") → 401', async () => {
    const refused = await refusal(gateway.url, { Auth: 'expired' });
    conformance.record('authorizer-throw-unauthorized', refused.status);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ message: 'Unauthorized' });
  });

  it('a returned string "Unauthorized" → 500, and the log says why', async () => {
    const refused = await refusal(gateway.url, { Auth: 'legacy' });
    conformance.record('authorizer-return-unauthorized-string', refused.status);
    expect(refused.status).toBe(500);
    expect(logs.join('\n')).toMatch(
      /authorizer AuthFunction \S+ 500 invalid response \(returned the string "Unauthorized", not a policy/,
    );
  });

  it('an authorizer that fails otherwise (a TypeError) → 500, its error logged', async () => {
    const refused = await refusal(gateway.url, { Auth: 'garbage' });
    conformance.record('authorizer-error', refused.status);
    expect(refused.status).toBe(500);
    expect(logs.join('\n')).toMatch(/authorizer AuthFunction \S+ 500 error \(TypeError: /);
  });

  it('no Auth header → 401 without invoking the authorizer', async () => {
    const invocations = () => logs.filter((line) => line.startsWith('authorizer AuthFunction ')).length;
    const before = invocations();
    const refused = await refusal(gateway.url);
    const skipped = logs.some((line) =>
      /^authorizer AuthFunction \S+ 401 \(no route\.request\.header\.Auth\) 0ms$/.test(line),
    );
    conformance.record(
      'authorizer-missing-identity-source-header',
      `${refused.status} (${skipped && invocations() === before + 1 ? 'not invoked' : 'invoked'})`,
    );
    expect(refused.status).toBe(401);
    expect(skipped).toBe(true);
    expect(invocations()).toBe(before + 1); // that one line, no invocation
  });

  it('a two-way route answers the caller; a one-way route sends nothing back', async () => {
    const socket = await open(gateway.url, { Auth: 'allow bob' });
    socket.send({ action: 'notify', note: 'hi' });
    const silent = await socket.silentFor(400);
    conformance.record('route-one-way', silent ? 'nothing sent' : `sent: ${socket.frames[0]}`);
    expect(silent).toBe(true);
    socket.send({ action: 'whoami' });
    const answer = await socket.json();
    conformance.record(
      'route-two-way',
      answer.route === 'whoami' ? 'the handler’s body sent' : 'nothing sent',
    );
    expect(answer.route).toBe('whoami');
    expect(socket.frames).toHaveLength(1);
    await socket.close();
  });

  it('unknown actions and non-JSON frames go to $default (two-way)', async () => {
    const socket = await open(gateway.url, { Auth: 'allow cy' });
    socket.send({ action: 'archive' });
    const unmatched = await socket.json();
    socket.send('plain words');
    const notJson = await socket.json();
    conformance.record(
      'route-default',
      unmatched.route === '$default' && notJson.route === '$default'
        ? '$default'
        : `${unmatched.route} / ${notJson.route}`,
    );
    expect(unmatched).toEqual({ route: '$default', unknown: '{"action":"archive"}' });
    expect(notJson).toEqual({ route: '$default', unknown: 'plain words' });
    await socket.close();
  });

  it('a route whose function throws answers the Internal server error frame; the socket stays open', async () => {
    const socket = await open(gateway.url, { Auth: 'allow dee' });
    socket.send({ action: 'fail' });
    const frame = await socket.json<Record<string, string>>();
    conformance.record('route-integration-error', `{"message": "${frame.message}", …} frame`);
    expect(frame).toEqual({
      message: 'Internal server error',
      connectionId: expect.any(String),
      requestId: expect.any(String),
    });
    socket.send({ action: 'whoami' });
    expect((await socket.json()).route).toBe('whoami');
    await socket.close();
  });

  it('a plain HTTP GET on the stage path → 426 Upgrade Required', async () => {
    const answer = await plainGet(gateway.url);
    conformance.record('plain-http-get', answer.status);
    expect(answer.status).toBe(426);
    expect(answer.upgrade).toBe('websocket');
  });
});
