/**
 * Reads a SAM/CloudFormation template and extracts what the local gateway serves: the WebSocket API
 * (route selection, routes, integrations, route responses, the REQUEST authorizer, the stage), the
 * functions (source file, handler, resolved environment, timeout, memory) and the SQS event sources.
 * Everything comes from the template; nothing here knows a particular application.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve as resolvePath } from 'node:path';
import { parseCfnYaml } from './cfn-yaml';
import { evaluateCondition, type IntrinsicScope, NO_VALUE, resolve, Unresolved } from './intrinsics';

export interface TemplateOptions {
  /** Values for template parameters (win over their `Default`). */
  parameterOverrides?: Record<string, string>;
  region?: string;
  accountId?: string;
  stackName?: string;
  /** The WebSocket API to serve when the template has several (logical id). */
  apiLogicalId?: string;
  /** The id the served API gets (`!Ref Api`, `requestContext.apiId`). */
  apiId?: string;
  /** `!GetAtt Api.ApiEndpoint` of the served API (e.g. `ws://127.0.0.1:3001`). */
  apiEndpoint?: string;
  /**
   * Resources created on a local AWS endpoint (local/resources.ts), by logical id: their `!Ref` and
   * `!GetAtt` resolve to these values instead of the AWS-shaped guesses.
   */
  provided?: Record<string, ProvidedValues>;
}

/** What `!Ref` and `!GetAtt` of a resource created locally give. */
export interface ProvidedValues {
  ref: string;
  attributes: Record<string, string>;
}

export interface FunctionDef {
  logicalId: string;
  /** Physical name: `FunctionName` when the template sets one, else the logical id. */
  name: string;
  arn: string;
  /** Absolute path of the TypeScript/JavaScript module that exports the handler. */
  sourceFile?: string;
  exportName: string;
  /** Directories whose changes reload this function (CodeUri). */
  codeDir?: string;
  /** `Environment.Variables` (Globals merged), resolved; what cannot be known locally is ''. */
  environment: Record<string, string>;
  /** Names of the variables that were unresolvable (set to ''). */
  unresolvedEnvironment: string[];
  /** Variable name → logical ids of the template's resources its value refers to (`!Ref`, `!GetAtt`, `${…}`). */
  environmentRefs: Record<string, string[]>;
  timeoutSeconds: number;
  memoryMb: number;
  /** Why the function cannot run locally, when it cannot. */
  problem?: string;
}

export interface AuthorizerDef {
  logicalId: string;
  name: string;
  type: string;
  /** e.g. `route.request.querystring.token`, `route.request.header.Authorization`. */
  identitySources: string[];
  functionId?: string;
  problem?: string;
}

export interface RouteDef {
  logicalId: string;
  routeKey: string;
  functionId?: string;
  /** Integration timeout (`TimeoutInMillis`), when the template sets one. */
  integrationTimeoutMs?: number;
  /** Has a `$default` route response: the integration's `body` is sent back to the caller. */
  twoWay: boolean;
  authorizationType: string;
  authorizer?: AuthorizerDef;
  problem?: string;
}

export interface WebSocketApiDef {
  logicalId: string;
  name: string;
  apiId: string;
  routeSelectionExpression: string;
  stageName?: string;
  /** The `AWS::ApiGatewayV2::Stage` the stage name comes from. */
  stageLogicalId?: string;
  stageVariables: Record<string, string>;
  routes: Map<string, RouteDef>;
}

export interface QueueDef {
  logicalId: string;
  name: string;
  arn: string;
  url: string;
  /** Resolved `AWS::SQS::Queue` properties (VisibilityTimeout, RedrivePolicy, FifoQueue…). */
  properties: Record<string, unknown>;
}

/** An `AWS::DynamoDB::Table` or `AWS::Serverless::SimpleTable`. */
export interface TableDef {
  logicalId: string;
  type: string;
  /** `TableName`, else `{stackName}-{logicalId}`. */
  name: string;
  /** Resolved properties. */
  properties: Record<string, unknown>;
}

/** An `AWS::SecretsManager::Secret`. */
export interface SecretDef {
  logicalId: string;
  /** `Name`, else `{stackName}-{logicalId}`. */
  name: string;
  properties: Record<string, unknown>;
}

export interface SqsSourceDef {
  functionId: string;
  /** Event name (SAM `Events` key) or `AWS::Lambda::EventSourceMapping` logical id. */
  name: string;
  queueLogicalId?: string;
  queueName: string;
  queueArn: string;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  reportBatchItemFailures: boolean;
  enabled: boolean;
}

export interface TemplateModel {
  path: string;
  dir: string;
  region: string;
  accountId: string;
  stackName: string;
  parameters: Record<string, unknown>;
  functions: Map<string, FunctionDef>;
  /** Logical ids of every `AWS::ApiGatewayV2::Api` with `ProtocolType: WEBSOCKET`. */
  webSocketApiIds: string[];
  /** The served WebSocket API (`apiLogicalId`, or the only/first one). */
  webSocketApi?: WebSocketApiDef;
  queues: Map<string, QueueDef>;
  tables: Map<string, TableDef>;
  secrets: Map<string, SecretDef>;
  /** Type of every resource of this configuration (its Condition true), by logical id. */
  resourceTypes: Map<string, string>;
  /**
   * The resolved `Properties` of a resource of this configuration (Globals merged into a serverless function),
   * undefined for a resource it does not have; values only known once deployed are `Unresolved`.
   */
  resolvedProperties(logicalId: string): Record<string, unknown> | undefined;
  sqsSources: SqsSourceDef[];
  /** Absolute `ContentUri` directories of the template's layers (watched for reloads). */
  layerDirs: string[];
  warnings: string[];
}

type Json = Record<string, unknown>;

interface Resource {
  Type: string;
  Properties: Json;
  Metadata?: Json;
  Condition?: string;
}

const SOURCE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
const STRUCTURAL_TYPES = new Set([
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::RouteResponse',
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::ApiGatewayV2::Deployment',
  'AWS::ApiGatewayV2::IntegrationResponse',
  'AWS::ApiGatewayV2::Model',
]);
const FUNCTION_TYPES = new Set(['AWS::Serverless::Function', 'AWS::Lambda::Function']);
const TABLE_TYPES = new Set(['AWS::DynamoDB::Table', 'AWS::Serverless::SimpleTable']);

function isObject(value: unknown): value is Json {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Unresolved)
  );
}

function isIntrinsic(value: unknown): boolean {
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0] as string).startsWith('Fn::'));
}

/** SAM Globals semantics: maps merge (resource wins), lists concatenate (globals first), scalars are replaced. */
export function mergeGlobals(global: unknown, local: unknown): unknown {
  if (local === undefined) return global;
  if (Array.isArray(global) && Array.isArray(local)) return [...global, ...local];
  if (isObject(global) && isObject(local) && !isIntrinsic(global) && !isIntrinsic(local)) {
    const out: Json = { ...global };
    for (const [key, value] of Object.entries(local)) out[key] = mergeGlobals(global[key], value);
    return out;
  }
  return local;
}

/** Deterministic 10-character API id for APIs that are not served. */
function fakeApiId(logicalId: string): string {
  let hash = 0;
  for (const ch of logicalId) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash.toString(36).padStart(10, 'x').slice(0, 10);
}

/** The function name inside a Lambda ARN or an `…/functions/{arn}/invocations` URI. */
export function functionNameFromArn(arn: string): string | undefined {
  return /:function:([^:/]+)/.exec(arn)?.[1];
}

/** A template CloudFormation would refuse: every reason, one line each (`template.yaml: … (CloudFormation refuses this)`). */
export class TemplateRefusedError extends Error {
  constructor(
    readonly file: string,
    readonly reasons: string[],
  ) {
    super(reasons.map((reason) => `${file}: ${reason} (CloudFormation refuses this)`).join('\n'));
    this.name = 'TemplateRefusedError';
  }
}

/** `!Ref`/`!GetAtt` of a logical id that is not a resource of this configuration. */
class MissingResource extends Unresolved {
  constructor(
    reason: string,
    readonly logicalId: string,
  ) {
    super(reason);
  }
}

/** A name an intrinsic function refers to, and how (`!Ref X`, `!GetAtt X.Arn`, `${X}`). */
export interface Reference {
  name: string;
  how: string;
}

/** Every `Ref`, `Fn::GetAtt` and `Fn::Sub` variable in `value` (unresolved), the Sub's own variables excluded. */
export function references(value: unknown, out: Reference[] = []): Reference[] {
  if (Array.isArray(value)) {
    for (const item of value) references(item, out);
    return out;
  }
  if (!isObject(value)) return out;
  const keys = Object.keys(value);
  const [key] = keys;
  if (keys.length === 1 && key !== undefined) {
    const arg = value[key];
    if (key === 'Ref' && typeof arg === 'string') {
      out.push({ name: arg, how: `!Ref ${arg}` });
      return out;
    }
    if (key === 'Fn::GetAtt') {
      const parts = typeof arg === 'string' ? arg.split('.') : Array.isArray(arg) ? arg : [];
      if (typeof parts[0] === 'string')
        out.push({
          name: parts[0],
          how: `!GetAtt ${parts.map((p) => (typeof p === 'string' ? p : '…')).join('.')}`,
        });
      if (Array.isArray(arg)) references(arg.slice(1), out);
      return out;
    }
    if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(arg) ? arg : [arg, undefined];
      const own = new Set(isObject(variables) ? Object.keys(variables) : []);
      if (typeof text === 'string') {
        for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
          const inner = (match[1] as string).trim();
          if (inner.startsWith('!') || own.has(inner)) continue;
          const name =
            inner.includes('.') && !inner.startsWith('AWS::') ? inner.slice(0, inner.indexOf('.')) : inner;
          out.push({ name, how: `\${${inner}}` });
        }
      } else references(text, out);
      if (isObject(variables)) references(Object.values(variables), out);
      return out;
    }
  }
  for (const item of Object.values(value)) references(item, out);
  return out;
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::Region',
  'AWS::AccountId',
  'AWS::StackName',
  'AWS::StackId',
  'AWS::Partition',
  'AWS::URLSuffix',
  'AWS::NotificationARNs',
  'AWS::NoValue',
]);

/**
 * `Ref`/`GetAtt`/`Sub` names and `DependsOn` entries that are neither parameters nor resources of the template
 * (CloudFormation: "Unresolved resource dependencies"). Names the SAM transform creates (`{Function}Role`,
 * `{Function}Alias{Name}`, `ServerlessRestApi`…) and `!Ref Function.Alias` are accepted.
 */
function undefinedReferences(
  doc: Json,
  parameterNames: Set<string>,
  resources: Record<string, Resource>,
): string[] {
  const transform = JSON.stringify(doc.Transform ?? '');
  if (transform.includes('AWS::LanguageExtensions')) return []; // Fn::ForEach makes names the walk cannot know
  const resourceIds = Object.keys(resources);
  const samIds = resourceIds.filter((id) =>
    String(resources[id]?.Type ?? '').startsWith('AWS::Serverless::'),
  );
  const known = (name: string) =>
    PSEUDO_PARAMETERS.has(name) ||
    parameterNames.has(name) ||
    name in resources ||
    name.startsWith('Serverless') ||
    samIds.some((id) => name.startsWith(id)) ||
    (name.includes('.') && name.slice(0, name.indexOf('.')) in resources);
  const reasons: string[] = [];
  const check = (where: string, value: unknown) => {
    const missing = new Map<string, string>();
    for (const ref of references(value))
      if (!known(ref.name) && !missing.has(ref.name)) missing.set(ref.name, ref.how);
    for (const [name, how] of missing)
      reasons.push(
        `${where} refers to ${name} (${how}), which is neither a parameter nor a resource of the template`,
      );
  };
  for (const [id, resource] of Object.entries(resources)) {
    if (!isObject(resource)) continue;
    check(`resource ${id}`, resource.Properties);
    const dependsOn = (resource as unknown as Json).DependsOn;
    for (const name of Array.isArray(dependsOn) ? dependsOn : dependsOn === undefined ? [] : [dependsOn]) {
      if (typeof name === 'string' && !(name in resources))
        reasons.push(`resource ${id} DependsOn ${name}, which is not a resource of the template`);
    }
  }
  if (isObject(doc.Globals)) check('Globals', doc.Globals);
  if (isObject(doc.Outputs)) {
    for (const [name, output] of Object.entries(doc.Outputs)) check(`output ${name}`, output);
  }
  return reasons;
}

export function loadTemplate(templatePath: string, options: TemplateOptions = {}): TemplateModel {
  const path = resolvePath(templatePath);
  const dir = dirname(path);
  const doc = parseCfnYaml(readFileSync(path, 'utf8'));
  const warnings: string[] = [];
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const stackName = options.stackName ?? 'local';

  // Parameters: overrides, then defaults; list types become arrays.
  const parameterDecls = (isObject(doc.Parameters) ? doc.Parameters : {}) as Record<string, Json>;
  const overrides = options.parameterOverrides ?? {};
  for (const name of Object.keys(overrides)) {
    if (!(name in parameterDecls))
      warnings.push(`parameter override ${name} is not a parameter of the template`);
  }
  const parameters: Record<string, unknown> = {};
  for (const [name, decl] of Object.entries(parameterDecls)) {
    const raw = overrides[name] ?? decl.Default;
    if (raw === undefined) {
      parameters[name] = new Unresolved(`parameter ${name} has no Default and no override`);
      continue;
    }
    const type = String(decl.Type ?? 'String');
    const text = Array.isArray(raw) ? raw.join(',') : String(raw);
    const allowed = Array.isArray(decl.AllowedValues) ? decl.AllowedValues.map(String) : undefined;
    if (allowed && !allowed.includes(text)) {
      warnings.push(`parameter ${name}=${text} is not one of its AllowedValues (${allowed.join(', ')})`);
    }
    parameters[name] =
      type.startsWith('List<') || type === 'CommaDelimitedList' ? text.split(',').map((s) => s.trim()) : text;
  }
  const pseudo: Record<string, unknown> = {
    'AWS::Region': region,
    'AWS::AccountId': accountId,
    'AWS::StackName': stackName,
    'AWS::StackId': `arn:aws:cloudformation:${region}:${accountId}:stack/${stackName}/00000000-0000-0000-0000-000000000000`,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::NotificationARNs': [],
    'AWS::NoValue': NO_VALUE,
  };

  const conditionDecls = (isObject(doc.Conditions) ? doc.Conditions : {}) as Json;
  const conditionCache = new Map<string, boolean>();
  const evaluating = new Set<string>();
  const allResources = (isObject(doc.Resources) ? doc.Resources : {}) as Record<string, Resource>;
  const globalsFunction =
    isObject(doc.Globals) && isObject(doc.Globals.Function) ? doc.Globals.Function : undefined;

  // The resources that exist in this configuration (their Condition is true).
  const resources = new Map<string, Resource>();
  const apiIds = new Map<string, string>();
  const functionNames = new Map<string, string>();
  const queueNames = new Map<string, string>();
  const tableNames = new Map<string, string>();
  const provided = options.provided ?? {};
  let selectedApi: string | undefined;

  const scope: IntrinsicScope = {
    region,
    mappings: (isObject(doc.Mappings) ? doc.Mappings : {}) as Json,
    refParameter: (name) => (name in pseudo ? pseudo[name] : parameters[name]),
    condition(name) {
      const cached = conditionCache.get(name);
      if (cached !== undefined) return cached;
      if (!(name in conditionDecls)) throw new Error(`condition ${name} is not defined in Conditions`);
      if (evaluating.has(name)) throw new Error(`condition ${name} refers to itself`);
      evaluating.add(name);
      const value = evaluateCondition(conditionDecls[name], scope);
      evaluating.delete(name);
      conditionCache.set(name, value);
      return value;
    },
    refResource(logicalId) {
      const resource = resources.get(logicalId);
      if (!resource)
        return new MissingResource(
          `!Ref ${logicalId}: no such parameter or resource in this configuration`,
          logicalId,
        );
      const given = provided[logicalId];
      if (given) return given.ref;
      if (FUNCTION_TYPES.has(resource.Type)) return functionNames.get(logicalId);
      if (resource.Type === 'AWS::SQS::Queue') return queueUrl(queueNames.get(logicalId) as string);
      if (TABLE_TYPES.has(resource.Type)) return tableNames.get(logicalId);
      if (resource.Type === 'AWS::ApiGatewayV2::Api') return apiIds.get(logicalId);
      if (resource.Type === 'AWS::ApiGatewayV2::Stage') return resolve(resource.Properties.StageName, scope);
      if (STRUCTURAL_TYPES.has(resource.Type)) return logicalId;
      if (
        resource.Type === 'AWS::Serverless::LayerVersion' ||
        resource.Type === 'AWS::Lambda::LayerVersion'
      ) {
        return `arn:aws:lambda:${region}:${accountId}:layer:${logicalId}:1`;
      }
      if (resource.Type === 'AWS::IAM::Role') return logicalId;
      return new Unresolved(`!Ref ${logicalId} (${resource.Type}) is only known once deployed`);
    },
    getAtt(logicalId, attribute) {
      const resource = resources.get(logicalId);
      if (!resource)
        return new MissingResource(
          `!GetAtt ${logicalId}.${attribute}: no such resource in this configuration`,
          logicalId,
        );
      const given = provided[logicalId]?.attributes[attribute];
      if (given !== undefined) return given;
      if (TABLE_TYPES.has(resource.Type) && attribute === 'Arn')
        return `arn:aws:dynamodb:${region}:${accountId}:table/${tableNames.get(logicalId)}`;
      if (FUNCTION_TYPES.has(resource.Type) && attribute === 'Arn')
        return functionArn(functionNames.get(logicalId) as string);
      if (resource.Type === 'AWS::SQS::Queue') {
        const name = queueNames.get(logicalId) as string;
        if (attribute === 'Arn') return queueArn(name);
        if (attribute === 'QueueName') return name;
        if (attribute === 'QueueUrl') return queueUrl(name);
      }
      if (resource.Type === 'AWS::ApiGatewayV2::Api') {
        if (attribute === 'ApiId') return apiIds.get(logicalId);
        if (attribute === 'ApiEndpoint' && options.apiEndpoint && logicalId === selectedApi)
          return options.apiEndpoint;
      }
      if (resource.Type === 'AWS::IAM::Role' && attribute === 'Arn')
        return `arn:aws:iam::${accountId}:role/${logicalId}`;
      return new Unresolved(`!GetAtt ${logicalId}.${attribute} is only known once deployed`);
    },
  };
  const functionArn = (name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`;
  const queueArn = (name: string) => `arn:aws:sqs:${region}:${accountId}:${name}`;
  const queueUrl = (name: string) => `https://sqs.${region}.amazonaws.com/${accountId}/${name}`;
  const resolveIn = (logicalId: string, value: unknown): unknown => {
    try {
      return resolve(value, scope);
    } catch (error) {
      throw new Error(`template: resource ${logicalId}: ${(error as Error).message}`);
    }
  };

  for (const [logicalId, resource] of Object.entries(allResources)) {
    if (!isObject(resource) || typeof resource.Type !== 'string') continue;
    if (resource.Condition !== undefined && !scope.condition(String(resource.Condition))) continue;
    let properties = isObject(resource.Properties) ? resource.Properties : {};
    if (resource.Type === 'AWS::Serverless::Function' && globalsFunction) {
      properties = mergeGlobals(globalsFunction, properties) as Json;
    }
    resources.set(logicalId, { ...resource, Properties: properties });
  }

  // Names first: every Ref/GetAtt of a function, queue or API depends on them.
  for (const [logicalId, resource] of resources) {
    if (FUNCTION_TYPES.has(resource.Type)) {
      const name =
        resource.Properties.FunctionName === undefined
          ? undefined
          : resolveIn(logicalId, resource.Properties.FunctionName);
      functionNames.set(logicalId, typeof name === 'string' && name ? name : logicalId);
    }
  }
  for (const [logicalId, resource] of resources) {
    if (resource.Type === 'AWS::SQS::Queue') {
      const name =
        resource.Properties.QueueName === undefined
          ? undefined
          : resolveIn(logicalId, resource.Properties.QueueName);
      const fifo = String(resolveIn(logicalId, resource.Properties.FifoQueue)) === 'true';
      queueNames.set(
        logicalId,
        typeof name === 'string' && name ? name : `${logicalId}${fifo ? '.fifo' : ''}`,
      );
    }
  }
  for (const [logicalId, resource] of resources) {
    if (TABLE_TYPES.has(resource.Type)) {
      const name =
        resource.Properties.TableName === undefined
          ? undefined
          : resolveIn(logicalId, resource.Properties.TableName);
      tableNames.set(logicalId, typeof name === 'string' && name ? name : `${stackName}-${logicalId}`);
    }
  }
  const webSocketApiIds = [...resources]
    .filter(
      ([id, r]) =>
        r.Type === 'AWS::ApiGatewayV2::Api' && resolveIn(id, r.Properties.ProtocolType) === 'WEBSOCKET',
    )
    .map(([id]) => id);
  for (const [logicalId, resource] of resources) {
    if (resource.Type === 'AWS::ApiGatewayV2::Api') apiIds.set(logicalId, fakeApiId(logicalId));
  }
  if (options.apiLogicalId && !webSocketApiIds.includes(options.apiLogicalId)) {
    throw new Error(
      `template: ${options.apiLogicalId} is not a WebSocket API (found: ${webSocketApiIds.join(', ') || 'none'})`,
    );
  }
  selectedApi = options.apiLogicalId ?? webSocketApiIds[0];
  if (!options.apiLogicalId && webSocketApiIds.length > 1) {
    warnings.push(
      `several WebSocket APIs (${webSocketApiIds.join(', ')}); serving ${selectedApi} (choose with apiLogicalId)`,
    );
  }
  if (selectedApi && options.apiId) apiIds.set(selectedApi, options.apiId);

  // What CloudFormation (or API Gateway, while creating the stack) would refuse.
  const refusals = [
    ...undefinedReferences(doc, new Set(Object.keys(parameterDecls)), allResources),
    ...validateWebSocketApis(resources, allResources, webSocketApiIds, apiIds, resolveIn),
  ];
  if (refusals.length > 0) throw new TemplateRefusedError(basename(path), refusals);

  const functions = new Map<string, FunctionDef>();
  const functionByName = new Map<string, string>();
  for (const [logicalId, resource] of resources) {
    if (!FUNCTION_TYPES.has(resource.Type)) continue;
    const def = buildFunction(
      logicalId,
      resource,
      dir,
      (v) => resolveIn(logicalId, v),
      functionNames,
      functionArn,
    );
    functions.set(logicalId, def);
    functionByName.set(def.name, logicalId);
  }
  const functionFromArn = (value: unknown): string | undefined => {
    if (typeof value !== 'string') return undefined;
    const name = functionNameFromArn(value) ?? value;
    return functionByName.get(name);
  };

  const queues = new Map<string, QueueDef>();
  const queueByArn = new Map<string, string>();
  for (const [logicalId, resource] of resources) {
    if (resource.Type !== 'AWS::SQS::Queue') continue;
    const name = queueNames.get(logicalId) as string;
    queues.set(logicalId, {
      logicalId,
      name,
      arn: queueArn(name),
      url: queueUrl(name),
      properties: resolveIn(logicalId, resource.Properties) as Json,
    });
    queueByArn.set(queueArn(name), logicalId);
  }

  const tables = new Map<string, TableDef>();
  const secrets = new Map<string, SecretDef>();
  const resourceTypes = new Map<string, string>();
  for (const [logicalId, resource] of resources) {
    resourceTypes.set(logicalId, resource.Type);
    if (TABLE_TYPES.has(resource.Type)) {
      tables.set(logicalId, {
        logicalId,
        type: resource.Type,
        name: tableNames.get(logicalId) as string,
        properties: resolveIn(logicalId, resource.Properties) as Json,
      });
    } else if (resource.Type === 'AWS::SecretsManager::Secret') {
      const properties = resolveIn(logicalId, resource.Properties) as Json;
      secrets.set(logicalId, {
        logicalId,
        name:
          typeof properties.Name === 'string' && properties.Name
            ? properties.Name
            : `${stackName}-${logicalId}`,
        properties,
      });
    }
  }

  const sqsSources = collectSqsSources(
    resources,
    functions,
    resolveIn,
    functionFromArn,
    queueByArn,
    queues,
    warnings,
  );
  const webSocketApi = selectedApi
    ? buildWebSocketApi(
        selectedApi,
        resources,
        apiIds.get(selectedApi) as string,
        resolveIn,
        functionFromArn,
        warnings,
      )
    : undefined;

  const layerDirs: string[] = [];
  for (const [logicalId, resource] of resources) {
    if (resource.Type !== 'AWS::Serverless::LayerVersion') continue;
    const content = resolveIn(logicalId, resource.Properties.ContentUri);
    if (typeof content === 'string') layerDirs.push(resolvePath(dir, content));
  }

  return {
    path,
    dir,
    region,
    accountId,
    stackName,
    parameters,
    functions,
    webSocketApiIds,
    webSocketApi,
    queues,
    tables,
    secrets,
    resourceTypes,
    resolvedProperties(logicalId) {
      const resource = resources.get(logicalId);
      return resource && (resolveIn(logicalId, resource.Properties) as Json);
    },
    sqsSources,
    layerDirs,
    warnings,
  };
}

function buildFunction(
  logicalId: string,
  resource: Resource,
  templateDir: string,
  resolveValue: (value: unknown) => unknown,
  functionNames: Map<string, string>,
  functionArn: (name: string) => string,
): FunctionDef {
  const props = resource.Properties;
  const name = functionNames.get(logicalId) as string;
  const handler = resolveValue(props.Handler);
  const runtime = resolveValue(props.Runtime);
  const code = resolveValue(resource.Type === 'AWS::Serverless::Function' ? props.CodeUri : props.Code);
  const rawEnv = isObject(props.Environment) ? props.Environment.Variables : undefined;
  const env = resolveValue(rawEnv);
  const environment: Record<string, string> = {};
  const unresolvedEnvironment: string[] = [];
  const environmentRefs: Record<string, string[]> = {};
  if (isObject(rawEnv)) {
    for (const [key, value] of Object.entries(rawEnv)) {
      const ids = [...new Set(references(value).map((r) => r.name))].filter(
        (name) => !name.startsWith('AWS::'),
      );
      if (ids.length > 0) environmentRefs[key] = ids;
    }
  }
  if (isObject(env)) {
    for (const [key, value] of Object.entries(env)) {
      if (value instanceof Unresolved) {
        environment[key] = '';
        unresolvedEnvironment.push(key);
      } else if (value !== NO_VALUE && value !== undefined && value !== null) {
        environment[key] =
          typeof value === 'string'
            ? value
            : typeof value === 'object'
              ? JSON.stringify(value)
              : String(value);
      }
    }
  }
  const timeout = Number(resolveValue(props.Timeout) ?? 3);
  const memory = Number(resolveValue(props.MemorySize) ?? 128);
  const def: FunctionDef = {
    logicalId,
    name,
    arn: functionArn(name),
    exportName: 'handler',
    environment,
    unresolvedEnvironment,
    environmentRefs,
    timeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? timeout : 3,
    memoryMb: Number.isFinite(memory) && memory > 0 ? memory : 128,
  };
  if (resolveValue(props.PackageType) === 'Image')
    return { ...def, problem: 'PackageType Image does not run in-process' };
  if (typeof runtime === 'string' && !runtime.startsWith('nodejs')) {
    return { ...def, problem: `runtime ${runtime} does not run in-process (Node.js only)` };
  }
  if (typeof handler !== 'string' || !handler.includes('.'))
    return { ...def, problem: 'no Handler of the form module.export' };
  if (typeof code !== 'string') return { ...def, problem: 'CodeUri/Code is not a local path' };
  const codeDir = resolvePath(templateDir, code);
  const dot = handler.lastIndexOf('.');
  const modulePath = handler.slice(0, dot);
  const exportName = handler.slice(dot + 1);
  const metadata = isObject(resource.Metadata) ? resource.Metadata : {};
  const buildProps = isObject(metadata.BuildProperties) ? metadata.BuildProperties : {};
  const entryPoints = Array.isArray(buildProps.EntryPoints) ? buildProps.EntryPoints.map(String) : [];
  const stripExt = (p: string) => p.slice(0, p.length - extname(p).length);
  let candidates = entryPoints.filter(
    (entry) => stripExt(entry) === modulePath || basename(stripExt(entry)) === basename(modulePath),
  );
  if (candidates.length === 0 && entryPoints.length === 1) candidates = entryPoints;
  if (candidates.length === 0) candidates = SOURCE_EXTENSIONS.map((ext) => modulePath + ext);
  const sourceFile = candidates.map((c) => join(codeDir, c)).find((file) => existsSync(file));
  if (!sourceFile) {
    return {
      ...def,
      codeDir,
      exportName,
      problem: `no source for handler ${handler} in ${codeDir} (tried ${candidates.join(', ')})`,
    };
  }
  return { ...def, codeDir, exportName, sourceFile };
}

function collectSqsSources(
  resources: Map<string, Resource>,
  functions: Map<string, FunctionDef>,
  resolveIn: (logicalId: string, value: unknown) => unknown,
  functionFromArn: (value: unknown) => string | undefined,
  queueByArn: Map<string, string>,
  queues: Map<string, QueueDef>,
  warnings: string[],
): SqsSourceDef[] {
  const sources: SqsSourceDef[] = [];
  const add = (functionId: string, name: string, props: Json) => {
    const arn = props.Queue ?? props.EventSourceArn;
    if (typeof arn !== 'string') {
      warnings.push(
        `SQS source ${name} of ${functionId}: queue ARN is not known locally (${String(arn)}); not fed`,
      );
      return;
    }
    const queueLogicalId = queueByArn.get(arn);
    const responseTypes = Array.isArray(props.FunctionResponseTypes) ? props.FunctionResponseTypes : [];
    sources.push({
      functionId,
      name,
      queueLogicalId,
      queueName: queueLogicalId
        ? (queues.get(queueLogicalId) as QueueDef).name
        : (arn.split(':').pop() as string),
      queueArn: arn,
      batchSize: Number(props.BatchSize ?? 10),
      maximumBatchingWindowSeconds: Number(props.MaximumBatchingWindowInSeconds ?? 0),
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      enabled: String(props.Enabled ?? true) !== 'false',
    });
  };
  for (const [logicalId, resource] of resources) {
    if (resource.Type === 'AWS::Serverless::Function') {
      const events = resolveIn(logicalId, resource.Properties.Events);
      if (!isObject(events)) continue;
      for (const [name, event] of Object.entries(events)) {
        if (isObject(event) && event.Type === 'SQS' && isObject(event.Properties))
          add(logicalId, name, event.Properties);
      }
    } else if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
      const props = resolveIn(logicalId, resource.Properties) as Json;
      if (typeof props.EventSourceArn !== 'string' || !props.EventSourceArn.startsWith('arn:aws:sqs:'))
        continue;
      const functionId = functionFromArn(props.FunctionName);
      if (!functionId || !functions.has(functionId)) {
        warnings.push(
          `event source mapping ${logicalId}: function ${String(props.FunctionName)} is not in the template`,
        );
        continue;
      }
      add(functionId, logicalId, props);
    }
  }
  return sources;
}

function buildWebSocketApi(
  apiLogicalId: string,
  resources: Map<string, Resource>,
  apiId: string,
  resolveIn: (logicalId: string, value: unknown) => unknown,
  functionFromArn: (value: unknown) => string | undefined,
  warnings: string[],
): WebSocketApiDef {
  const api = resources.get(apiLogicalId) as Resource;
  const ofThisApi = (type: string) =>
    [...resources].filter(([id, r]) => r.Type === type && resolveIn(id, r.Properties.ApiId) === apiId);

  const authorizers = new Map<string, AuthorizerDef>();
  for (const [id, r] of ofThisApi('AWS::ApiGatewayV2::Authorizer')) {
    const props = resolveIn(id, r.Properties) as Json;
    const identity = props.IdentitySource;
    const def: AuthorizerDef = {
      logicalId: id,
      name: String(props.Name ?? id),
      type: String(props.AuthorizerType ?? 'REQUEST'),
      identitySources: (Array.isArray(identity) ? identity : identity === undefined ? [] : [identity]).map(
        String,
      ),
      functionId: functionFromArn(props.AuthorizerUri),
    };
    if (def.type !== 'REQUEST') def.problem = `authorizer type ${def.type} is not emulated (REQUEST only)`;
    else if (!def.functionId)
      def.problem = `AuthorizerUri ${String(props.AuthorizerUri)} names no function of the template`;
    authorizers.set(id, def);
  }

  const integrations = new Map<string, Json>();
  for (const [id, r] of ofThisApi('AWS::ApiGatewayV2::Integration'))
    integrations.set(id, resolveIn(id, r.Properties) as Json);

  const twoWayRoutes = new Set<string>();
  for (const [id, r] of ofThisApi('AWS::ApiGatewayV2::RouteResponse')) {
    const props = resolveIn(id, r.Properties) as Json;
    if (props.RouteResponseKey === '$default' && typeof props.RouteId === 'string')
      twoWayRoutes.add(props.RouteId);
  }

  const routes = new Map<string, RouteDef>();
  for (const [id, r] of ofThisApi('AWS::ApiGatewayV2::Route')) {
    const props = resolveIn(id, r.Properties) as Json;
    const routeKey = String(props.RouteKey);
    const route: RouteDef = {
      logicalId: id,
      routeKey,
      twoWay: twoWayRoutes.has(id),
      authorizationType: String(props.AuthorizationType ?? 'NONE'),
    };
    const target =
      typeof props.Target === 'string' ? /integrations\/([^/]+)$/.exec(props.Target)?.[1] : undefined;
    const integration = target ? integrations.get(target) : undefined;
    if (!integration) {
      route.problem = `Target ${String(props.Target)} names no integration of this API`;
    } else {
      const type = String(integration.IntegrationType ?? '');
      route.functionId = functionFromArn(integration.IntegrationUri);
      if (integration.TimeoutInMillis !== undefined)
        route.integrationTimeoutMs = Number(integration.TimeoutInMillis);
      if (type !== 'AWS_PROXY')
        route.problem = `integration type ${type} is not emulated (AWS_PROXY to Lambda only)`;
      else if (!route.functionId) {
        route.problem = `IntegrationUri ${String(integration.IntegrationUri)} names no function of the template`;
      }
    }
    if (route.authorizationType === 'CUSTOM') {
      route.authorizer =
        typeof props.AuthorizerId === 'string' ? authorizers.get(props.AuthorizerId) : undefined;
      if (!route.authorizer)
        route.problem = `AuthorizerId ${String(props.AuthorizerId)} names no authorizer of this API`;
    } else if (route.authorizationType !== 'NONE') {
      warnings.push(
        `route ${routeKey}: AuthorizationType ${route.authorizationType} is not enforced locally`,
      );
    }
    if (route.problem) warnings.push(`route ${routeKey}: ${route.problem}`);
    routes.set(routeKey, route);
  }

  const stages = ofThisApi('AWS::ApiGatewayV2::Stage').map(
    ([id, r]) => [id, resolveIn(id, r.Properties) as Json] as const,
  );
  if (stages.length > 1) warnings.push(`API ${apiLogicalId} has ${stages.length} stages; using the first`);
  const [stageLogicalId, stage] = stages[0] ?? [];
  const apiProps = resolveIn(apiLogicalId, api.Properties) as Json;
  const stageVariables: Record<string, string> = {};
  if (stage && isObject(stage.StageVariables)) {
    for (const [key, value] of Object.entries(stage.StageVariables)) stageVariables[key] = String(value);
  }
  return {
    logicalId: apiLogicalId,
    name: String(apiProps.Name ?? apiLogicalId),
    apiId,
    routeSelectionExpression: String(apiProps.RouteSelectionExpression ?? '$request.body.action'),
    stageName: stage && typeof stage.StageName === 'string' ? stage.StageName : undefined,
    stageLogicalId,
    stageVariables,
    routes,
  };
}

/** Required properties of the `AWS::ApiGatewayV2` resource types (CloudFormation's resource schemas). */
const REQUIRED_PROPERTIES: Record<string, string[]> = {
  'AWS::ApiGatewayV2::Route': ['ApiId', 'RouteKey'],
  'AWS::ApiGatewayV2::Integration': ['ApiId', 'IntegrationType'],
  'AWS::ApiGatewayV2::Authorizer': ['ApiId', 'AuthorizerType', 'Name'],
  'AWS::ApiGatewayV2::Stage': ['ApiId', 'StageName'],
  'AWS::ApiGatewayV2::RouteResponse': ['ApiId', 'RouteId', 'RouteResponseKey'],
  'AWS::ApiGatewayV2::Deployment': ['ApiId'],
  'AWS::ApiGatewayV2::IntegrationResponse': ['ApiId', 'IntegrationId', 'IntegrationResponseKey'],
};

function and(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * The WebSocket APIs' routes, integrations, authorizers and stages as CloudFormation and API Gateway check them
 * when the stack is created: one reason per problem (the caller refuses the template).
 */
function validateWebSocketApis(
  resources: Map<string, Resource>,
  allResources: Record<string, Resource>,
  webSocketApiIds: string[],
  apiIds: Map<string, string>,
  resolveIn: (logicalId: string, value: unknown) => unknown,
): string[] {
  const reasons: string[] = [];
  for (const [id, resource] of resources) {
    const missing = (REQUIRED_PROPERTIES[resource.Type] ?? []).filter(
      (name) => resource.Properties[name] === undefined,
    );
    if (missing.length > 0) reasons.push(`${resource.Type} ${id} has no ${and(missing)} (required)`);
  }
  /** A value referring to a resource this configuration does not create (its Condition is false). */
  const conditionedOut = (where: string, value: unknown): boolean => {
    if (!(value instanceof MissingResource)) return false;
    const resource = allResources[value.logicalId];
    // A name that is no resource at all is reported by undefinedReferences.
    if (resource)
      reasons.push(
        `${where} refers to ${value.logicalId}, which this configuration does not create (its Condition ${String(resource.Condition)} is false)`,
      );
    return true;
  };
  for (const apiLogicalId of webSocketApiIds) {
    const api = resources.get(apiLogicalId) as Resource;
    const apiId = apiIds.get(apiLogicalId);
    if (api.Properties.RouteSelectionExpression === undefined)
      reasons.push(
        `WebSocket API ${apiLogicalId} has no RouteSelectionExpression (required for ProtocolType WEBSOCKET)`,
      );
    if (api.Properties.Name === undefined)
      reasons.push(`WebSocket API ${apiLogicalId} has no Name (required)`);
    const ofApi = (type: string) =>
      [...resources].filter(([id, r]) => r.Type === type && resolveIn(id, r.Properties.ApiId) === apiId);

    const integrations = new Set<string>();
    for (const [id, r] of ofApi('AWS::ApiGatewayV2::Integration')) {
      integrations.add(id);
      const type = resolveIn(id, r.Properties.IntegrationType);
      if (type !== undefined && !['AWS', 'AWS_PROXY', 'HTTP', 'HTTP_PROXY', 'MOCK'].includes(String(type)))
        reasons.push(
          `integration ${id} has IntegrationType ${String(type)} (AWS, AWS_PROXY, HTTP, HTTP_PROXY or MOCK)`,
        );
      else if (type !== undefined && type !== 'MOCK' && r.Properties.IntegrationUri === undefined)
        reasons.push(`integration ${id} (${String(type)}) has no IntegrationUri`);
      conditionedOut(`integration ${id}: IntegrationUri`, resolveIn(id, r.Properties.IntegrationUri));
    }

    const authorizers = new Set<string>();
    for (const [id, r] of ofApi('AWS::ApiGatewayV2::Authorizer')) {
      authorizers.add(id);
      const type = resolveIn(id, r.Properties.AuthorizerType);
      if (type !== undefined && type !== 'REQUEST')
        reasons.push(
          `authorizer ${id} has AuthorizerType ${String(type)}: WebSocket APIs take REQUEST authorizers only`,
        );
      else if (type === 'REQUEST' && r.Properties.AuthorizerUri === undefined)
        reasons.push(`authorizer ${id} (REQUEST) has no AuthorizerUri`);
      conditionedOut(`authorizer ${id}: AuthorizerUri`, resolveIn(id, r.Properties.AuthorizerUri));
    }

    const routesByKey = new Map<string, string[]>();
    const routes = new Set<string>();
    for (const [id, r] of ofApi('AWS::ApiGatewayV2::Route')) {
      routes.add(id);
      const routeKey = resolveIn(id, r.Properties.RouteKey);
      const key = typeof routeKey === 'string' ? routeKey : undefined;
      if (key !== undefined) routesByKey.set(key, [...(routesByKey.get(key) ?? []), id]);
      const label = `route ${id}${key === undefined ? '' : ` (RouteKey ${key})`}`;
      const target = resolveIn(id, r.Properties.Target);
      if (
        target !== undefined &&
        !conditionedOut(`${label}: Target`, target) &&
        !(target instanceof Unresolved)
      ) {
        const integrationId = /^integrations\/([^/]+)$/.exec(String(target))?.[1];
        if (!integrationId || !integrations.has(integrationId))
          reasons.push(`${label}: Target ${String(target)} names no integration of API ${apiLogicalId}`);
      }
      const authorizationType = String(resolveIn(id, r.Properties.AuthorizationType) ?? 'NONE');
      if (!['NONE', 'AWS_IAM', 'CUSTOM'].includes(authorizationType))
        reasons.push(
          `${label} has AuthorizationType ${authorizationType} (WebSocket routes take NONE, AWS_IAM or CUSTOM)`,
        );
      else if (authorizationType !== 'NONE' && key !== undefined && key !== '$connect')
        reasons.push(
          `${label} has AuthorizationType ${authorizationType}: API Gateway authorizes $connect only`,
        );
      if (authorizationType === 'CUSTOM') {
        const authorizerId = resolveIn(id, r.Properties.AuthorizerId);
        if (authorizerId === undefined)
          reasons.push(`${label} has AuthorizationType CUSTOM and no AuthorizerId`);
        else if (
          !conditionedOut(`${label}: AuthorizerId`, authorizerId) &&
          !(authorizerId instanceof Unresolved) &&
          !authorizers.has(String(authorizerId))
        )
          reasons.push(
            `${label}: AuthorizerId ${String(authorizerId)} names no authorizer of API ${apiLogicalId}`,
          );
      }
    }
    for (const [key, ids] of routesByKey) {
      if (ids.length > 1)
        reasons.push(`routes ${and(ids)} ${ids.length === 2 ? 'both' : 'all'} have RouteKey ${key}`);
    }

    for (const [id, r] of ofApi('AWS::ApiGatewayV2::RouteResponse')) {
      const routeId = resolveIn(id, r.Properties.RouteId);
      if (routeId === undefined || conditionedOut(`route response ${id}: RouteId`, routeId)) continue;
      if (!(routeId instanceof Unresolved) && !routes.has(String(routeId)))
        reasons.push(
          `route response ${id}: RouteId ${String(routeId)} names no route of API ${apiLogicalId}`,
        );
    }

    const stagesByName = new Map<string, string[]>();
    for (const [id, r] of ofApi('AWS::ApiGatewayV2::Stage')) {
      const name = resolveIn(id, r.Properties.StageName);
      if (typeof name === 'string') stagesByName.set(name, [...(stagesByName.get(name) ?? []), id]);
    }
    for (const [name, ids] of stagesByName) {
      if (ids.length > 1)
        reasons.push(
          `stages ${and(ids)} of API ${apiLogicalId} ${ids.length === 2 ? 'both' : 'all'} have StageName ${name}`,
        );
    }
  }
  return reasons;
}
