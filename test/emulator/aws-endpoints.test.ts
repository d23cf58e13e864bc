/**
 * SPEC §7, the management endpoint as real code builds it: a function run by the emulator reaches the local
 * management API, unchanged, through `https://{domainName}/{stage}`, the execute-api host, an endpoint from
 * its template Environment and the SDK's AWS_ENDPOINT_URL* settings; with the SDK client, fetch and
 * https.request (and `wss://` for a WebSocket client). `requestContext.domainName` has the AWS shape. Other
 * https hosts are not intercepted; other API Gateway APIs fail with a clear error. Also local/aws-endpoints.ts
 * itself: install/uninstall and the `tls.connect` argument forms.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  type AwsEndpointsConfig,
  install,
  localCertificate,
  NOT_EMULATED,
  routeFor,
} from '../../local/aws-endpoints';
import { Gateway, type GatewayOptions } from '../../local/gateway';
import { type Client, connect, managementClient } from './support/clients';

const TEMPLATE = join(__dirname, 'fixtures', 'endpoints', 'template.yaml');
const AWS_DOMAIN = /^[a-z0-9]{10}\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/;

async function start(options: Partial<GatewayOptions> = {}): Promise<{ gateway: Gateway; logs: string[] }> {
  const logs: string[] = [];
  const gateway = await Gateway.start({
    templatePath: TEMPLATE,
    port: 0,
    logger: (line) => logs.push(line),
    ...options,
  });
  return { gateway, logs };
}

/**
 * Sends `body` on a route; returns the route's answer and the frames posted before it (a function's post is
 * written before its answer, which API Gateway sends once the function returns).
 */
async function ask(
  client: Client,
  body: Record<string, unknown>,
): Promise<Record<string, unknown> & { posted: unknown[] }> {
  client.send(body);
  const posted: unknown[] = [];
  for (;;) {
    const frame = JSON.parse(await client.next(5000)) as Record<string, unknown>;
    if (['ok', 'error', 'wss', 'got'].some((key) => key in frame)) return { ...frame, posted };
    posted.push(frame);
  }
}

describe('Gateway: management endpoints as code on AWS builds them', () => {
  let gateway: Gateway;
  let logs: string[];
  let client: Client;

  beforeAll(async () => {
    ({ gateway, logs } = await start());
    client = await connect(gateway.url);
  });
  afterAll(async () => {
    client.ws.close();
    await gateway.close();
  });

  it('gives requestContext.domainName the AWS shape, without a port', async () => {
    expect(gateway.domainName).toBe(`${gateway.apiId}.execute-api.us-east-1.amazonaws.com`);
    expect(gateway.domainName).toMatch(AWS_DOMAIN);
    expect(gateway.awsManagementEndpoint).toBe(`https://${gateway.domainName}/dev`);
    const answer = await ask(client, { action: 'post', via: 'domainName' });
    expect(answer.domainName).toBe(gateway.domainName);
    expect(String(answer.domainName)).not.toContain(':');
  });

  it.each([
    ['domainName', 'sdk'],
    ['domainName', 'fetch'],
    ['domainName', 'https'],
    ['executeApi', 'sdk'],
    ['executeApi', 'fetch'],
    ['executeApi', 'https'],
    ['templateEnv', 'sdk'],
    ['templateEnv', 'fetch'],
    ['apiEndpoint', 'sdk'],
  ])('a function posts through the %s endpoint with %s', async (via, kind) => {
    const answer = await ask(client, { action: 'post', via, client: kind });
    expect(answer).toMatchObject({ ok: true, status: 200 });
    expect(answer.posted).toEqual([{ via, client: kind }]);
  });

  it('the template Environment value is the API-id form of this API and stage', async () => {
    const answer = await ask(client, { action: 'post', via: 'templateEnv' });
    expect(answer.endpoint).toBe(`https://${gateway.apiId}.execute-api.us-east-1.amazonaws.com/dev`);
  });

  it('a function opens wss://{domainName}/{stage} too', async () => {
    expect(await ask(client, { action: 'post', via: 'domainName', client: 'wss' })).toEqual({
      wss: 'open',
      posted: [],
    });
  });

  it('another API Gateway API fails at once with a clear error, with each client', async () => {
    const endpoint = 'https://otherapi00.execute-api.us-east-1.amazonaws.com/dev';
    for (const kind of ['sdk', 'fetch', 'https']) {
      const answer = await ask(client, { action: 'post', via: 'given', endpoint, client: kind });
      expect({ kind, ...answer }).toMatchObject({
        kind,
        code: NOT_EMULATED,
        error: expect.stringContaining('is not the API'),
      });
      expect(answer.error).toContain('otherapi00.execute-api.us-east-1.amazonaws.com is not the API');
      expect(answer.error).toContain(gateway.domainName);
    }
  });

  it('does not intercept an unrelated https host', async () => {
    const other = await unrelatedServer();
    try {
      const url = `https://localhost:${other.port}/`;
      expect(await ask(client, { action: 'post', client: 'get', url, ca: other.cert })).toEqual({
        got: 'unrelated server',
        posted: [],
      });
      expect(routeFor('localhost')).toBeUndefined();
    } finally {
      other.server.close();
    }
  });

  it("redirects inside the functions only: the gateway's own process is untouched", () => {
    expect(routeFor(gateway.domainName)).toBeUndefined();
  });

  it('keeps the local http management endpoint for other processes', async () => {
    expect(gateway.managementEndpoint).toBe(`http://127.0.0.1:${gateway.port}/dev`);
    const ids = gateway.connectionIds();
    await managementClient(gateway).send(
      new PostToConnectionCommand({ ConnectionId: ids[ids.length - 1], Data: 'from outside' }),
    );
    expect(await client.next()).toBe('from outside');
    expect(logs.join('\n')).toContain(`functions reach it at https://${gateway.domainName}/dev too`);
  });
});

describe('Gateway: the SDK endpoint settings and options', () => {
  it.each(['AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI', 'AWS_ENDPOINT_URL'])(
    'a client without endpoint reaches the local http endpoint given as %s',
    async (name) => {
      const { gateway } = await start({
        functionEnv: (a) => ({ SdkEnvFunction: { [name]: a.managementEndpoint } }),
      });
      const client = await connect(gateway.url);
      try {
        expect(await ask(client, { action: 'sdkenv' })).toEqual({
          ok: true,
          status: 200,
          posted: [{ via: 'sdkEnv' }],
        });
      } finally {
        client.ws.close();
        await gateway.close();
      }
      expect(process.env[name]).toBeUndefined();
    },
  );

  it('AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI may be the AWS form too', async () => {
    const { gateway } = await start({
      functionEnv: (a) => ({
        SdkEnvFunction: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: `https://${a.domainName}/dev` },
      }),
    });
    const client = await connect(gateway.url);
    try {
      expect(await ask(client, { action: 'sdkenv' })).toEqual({
        ok: true,
        status: 200,
        posted: [{ via: 'sdkEnv' }],
      });
    } finally {
      client.ws.close();
      await gateway.close();
    }
  });

  it("serves the execute-api host of the template's Region", async () => {
    const { gateway } = await start({ region: 'eu-west-3' });
    const client = await connect(gateway.url);
    try {
      expect(gateway.domainName).toBe(`${gateway.apiId}.execute-api.eu-west-3.amazonaws.com`);
      for (const via of ['domainName', 'templateEnv', 'executeApi']) {
        const answer = await ask(client, { action: 'post', via, client: 'fetch' });
        expect(answer).toMatchObject({ ok: true, domainName: gateway.domainName, posted: [{ via }] });
      }
    } finally {
      client.ws.close();
      await gateway.close();
    }
  });

  it('serves a custom domainName and the execute-api host alike', async () => {
    const { gateway } = await start({ domainName: 'ws.classroom.example', apiId: 'customdom1' });
    const client = await connect(gateway.url);
    try {
      const answer = await ask(client, { action: 'post', via: 'domainName' });
      expect(answer).toMatchObject({ ok: true, domainName: 'ws.classroom.example', posted: [{}] });
      expect(await ask(client, { action: 'post', via: 'executeApi', client: 'fetch' })).toMatchObject({
        ok: true,
        posted: [{}],
      });
    } finally {
      client.ws.close();
      await gateway.close();
    }
  });

  it('a stage option also sets the template parameter the stage is named by', async () => {
    const { gateway, logs } = await start({ stage: 'qa' });
    const client = await connect(gateway.url);
    try {
      expect(gateway.url).toMatch(/\/qa$/);
      const answer = await ask(client, { action: 'post', via: 'templateEnv' });
      expect(answer).toMatchObject({ ok: true, endpoint: `https://${gateway.domainName}/qa`, posted: [{}] });
      expect(logs.join('\n')).toContain('template parameter StageName set to it');
    } finally {
      client.ws.close();
      await gateway.close();
    }
  });

  it('functions in the gateway process (inProcess) are served the same way, until close', async () => {
    const { gateway } = await start({ inProcess: true });
    const client = await connect(gateway.url);
    try {
      expect(routeFor(gateway.domainName)).toMatchObject({ port: gateway.httpsPort });
      for (const kind of ['sdk', 'fetch', 'https']) {
        const answer = await ask(client, { action: 'post', via: 'domainName', client: kind });
        expect(answer).toMatchObject({ ok: true, posted: [{ via: 'domainName', client: kind }] });
      }
    } finally {
      client.ws.close();
      await gateway.close();
    }
    expect(routeFor(gateway.domainName)).toBeUndefined();
  });

  it('a stage parameter the caller sets is left as it is', async () => {
    const { gateway } = await start({ stage: 'qa', parameterOverrides: { StageName: 'prod' } });
    try {
      expect(gateway.stage).toBe('qa');
      expect(gateway.runtime.environments.get('PostFunction')?.ENDPOINT_FROM_TEMPLATE).toMatch(/\/prod$/);
    } finally {
      await gateway.close();
    }
  });
});

describe('local/aws-endpoints.ts', () => {
  let server: Server;
  let config: AwsEndpointsConfig;
  const host = 'unitapi000.execute-api.us-east-1.amazonaws.com';

  beforeAll(async () => {
    const certificate = await localCertificate([host]);
    server = createHttpsServer(certificate, (_req, res) => res.end('local listener'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    config = {
      hosts: [host],
      address: '127.0.0.1',
      port,
      ca: certificate.cert,
      apiId: 'unitapi000',
      region: 'us-east-1',
    };
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  function handshake(socket: tls.TLSSocket): Promise<string> {
    return new Promise((resolve, reject) => {
      socket.once('secureConnect', () => {
        const name = (socket.getPeerCertificate() as { subjectaltname?: string }).subjectaltname ?? '';
        socket.destroy();
        resolve(name);
      });
      socket.once('error', reject);
    });
  }

  it('redirects every tls.connect argument form for the hosts, keeping the server name', async () => {
    const original = tls.connect;
    const uninstall = install(config);
    try {
      expect(tls.connect).not.toBe(original);
      expect(routeFor(host.toUpperCase())).toMatchObject({ port: config.port, apiId: 'unitapi000' });
      expect(await handshake(tls.connect({ host, port: 443 }))).toBe(`DNS:${host}`);
      expect(await handshake(tls.connect(443, host))).toBe(`DNS:${host}`);
      expect(await handshake(tls.connect(443, host, { servername: host }))).toBe(`DNS:${host}`);
      expect(await handshake(tls.connect(443, { host: `${host}.` }))).toBe(`DNS:${host}`);
    } finally {
      uninstall();
    }
    expect(tls.connect).toBe(original);
    expect(routeFor(host)).toBeUndefined();
  });

  it('serves every install of the process until its own uninstall', async () => {
    const first = install(config);
    const second = install({ ...config, hosts: ['otherinst0.execute-api.us-east-1.amazonaws.com'] });
    first();
    expect(routeFor(host)).toBeUndefined();
    expect(routeFor('otherinst0.execute-api.us-east-1.amazonaws.com')).toBeDefined();
    second();
    second();
    expect(routeFor('otherinst0.execute-api.us-east-1.amazonaws.com')).toBeUndefined();
  });

  it('goes on top of a patch someone else put on tls.connect, and leaves that one in place', async () => {
    const original = tls.connect;
    const seen: string[] = [];
    const first = install(config);
    const ours = tls.connect as (...args: unknown[]) => tls.TLSSocket;
    // A mocking library wraps the patched function.
    tls.connect = ((...args: unknown[]) => {
      seen.push(String((args[0] as tls.ConnectionOptions).host));
      return ours(...args);
    }) as typeof tls.connect;
    const foreign = tls.connect;
    try {
      first();
      expect(tls.connect).toBe(foreign); // not ours to remove
      const second = install(config);
      expect(tls.connect).not.toBe(foreign);
      expect(await handshake(tls.connect({ host, port: 443 }))).toBe(`DNS:${host}`);
      expect(seen).toEqual(['127.0.0.1']); // redirected by ours, then through theirs
      second();
      expect(tls.connect).toBe(foreign);
    } finally {
      tls.connect = original;
    }
  });

  it('trusts the listener certificate only for the mapped hosts', async () => {
    // Without the install, the self-signed certificate is not trusted on a direct connection.
    const direct = tls.connect({ host: '127.0.0.1', port: config.port, servername: host });
    await expect(handshake(direct)).rejects.toThrow(/self.signed|unable to verify/i);
  });

  it('refuses install without its fields', () => {
    expect(() => install({ ...config, ca: '' })).toThrow(/needs every field/);
  });
});

async function unrelatedServer(): Promise<{ server: Server; port: number; cert: string }> {
  const certificate = await localCertificate(['localhost']);
  const server = createHttpsServer(certificate, (_req, res) => res.end('unrelated server'));
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return { server, port: (server.address() as AddressInfo).port, cert: certificate.cert };
}
