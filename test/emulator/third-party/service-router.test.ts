/**
 * Third-party fixture `service-router` (test/fixtures/third-party/service-router): `.mjs` handlers, a custom
 * route selection expression on a nested field (`$request.body.service.do`), no `$connect`/`$disconnect`
 * routes, a stage from a parameter (`v1`), a handler posting to its own connection through
 * `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` from an environment variable built with `!Sub`,
 * and an SNS topic the emulator cannot provide (named at start-up).
 */
import { Gateway } from '../../../local/gateway';
import { Conformance, copyApp, open } from './support';

const conformance = new Conformance('service-router');

describe('third-party app: service-router (.mjs, $request.body.service.do, self-post via !Sub URL)', () => {
  const app = copyApp('service-router');
  const logs: string[] = [];
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await Gateway.start({
      templatePath: app.template,
      port: 0,
      aws: false,
      logger: (line) => logs.push(line),
    });
  });
  afterAll(async () => {
    await gateway?.close();
    app.remove();
  });

  it('starts on the parameter’s stage (v1) and names what it cannot provide: the SNS topic', () => {
    expect(gateway.url).toMatch(/\/v1$/);
    expect(logs).toContainEqual(
      expect.stringMatching(
        /^resources: AWS::SNS::Topic AlertsTopic: not provided; ALERTS_TOPIC_ARN resolves to /,
      ),
    );
    expect(logs).toContainEqual(
      expect.stringMatching(/^RouterApi \(\$request\.body\.service\.do\) at ws:\/\/127\.0\.0\.1:\d+\/v1: /),
    );
  });

  it('opens without $connect/$disconnect routes and selects routes by service.do (two-way clock)', async () => {
    const socket = await open(gateway.url);
    socket.send({ service: { do: 'clock', zone: 'Europe/Paris' } });
    const answer = await socket.json();
    conformance.record(
      'route-selection-nested',
      answer.service === 'clock' ? 'the route named by service.do' : JSON.stringify(answer),
    );
    expect(answer).toEqual({ service: 'clock', zone: 'Europe/Paris', iso: expect.any(String) });
    await socket.close();
  });

  it('no service.do, an unknown one, a non-object service and non-JSON all go to $default', async () => {
    const socket = await open(gateway.url);
    const asks: unknown[] = [{ service: { do: 'weather' } }, { service: 'clock' }, { do: 'clock' }, 'hello?'];
    for (const ask of asks) socket.send(ask);
    const answers = [];
    for (const _ of asks) answers.push(await socket.json());
    // Each frame is its own invocation, run concurrently (as on API Gateway): answers come in any order.
    const byAsk = answers.map((a) => JSON.stringify(a)).sort();
    expect(byAsk).toEqual(
      [
        { error: 'no such service', asked: 'weather', routeKey: '$default' },
        { error: 'no such service', asked: null, routeKey: '$default' },
        { error: 'no such service', asked: null, routeKey: '$default' },
        { error: 'no such service', asked: 'not JSON', routeKey: '$default' },
      ]
        .map((a) => JSON.stringify(a))
        .sort(),
    );
    await socket.close();
  });

  it('reply posts to its own connection through the !Sub https://{api}.execute-api.{region}.amazonaws.com/{stage} URL', async () => {
    const socket = await open(gateway.url);
    socket.send({ service: { do: 'reply' }, text: 'ping' });
    const frame = await socket.next(8000).catch((error: Error) => `nothing: ${error.message}`);
    const expected = `https://${gateway.apiId}.execute-api.us-east-1.amazonaws.com/v1`;
    let posted: Record<string, unknown> | undefined;
    try {
      posted = JSON.parse(frame);
    } catch {}
    conformance.record(
      'management-post-execute-api-env',
      posted?.via === expected ? 'delivered' : frame.slice(0, 120),
    );
    expect(posted).toEqual({
      service: 'reply',
      text: 'PING',
      via: expected,
      sourceIp: '127.0.0.1',
      connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // One-way: the handler's return value is not sent.
    expect(await socket.silentFor(300)).toBe(true);
    await socket.close();
  });
});
