/**
 * Evaluation of CloudFormation intrinsic functions (long forms, as `cfn-yaml.ts` produces them) against
 * a local stack: parameters, pseudo parameters, mappings, conditions and the resource values the caller
 * can provide. What cannot be known locally (an ElastiCache endpoint, an imported value) becomes an
 * `Unresolved` value that propagates through every function that uses it.
 */

/** A value only CloudFormation could know. */
export class Unresolved {
  constructor(readonly reason: string) {}
  toString(): string {
    return `<unresolved: ${this.reason}>`;
  }
}

/** `!Ref AWS::NoValue`: the property is removed. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export interface IntrinsicScope {
  /** `Ref` of a parameter or pseudo parameter; undefined when the name is not one. */
  refParameter(name: string): unknown;
  /** `Ref` of a resource. */
  refResource(logicalId: string): unknown;
  getAtt(logicalId: string, attribute: string): unknown;
  condition(name: string): boolean;
  mappings: Record<string, unknown>;
  region: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Unresolved)
  );
}

function firstUnresolved(values: unknown[]): Unresolved | undefined {
  return values.find((v): v is Unresolved => v instanceof Unresolved);
}

function asString(value: unknown, fn: string): string | Unresolved {
  if (value instanceof Unresolved) return value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${fn}: expected a string, got ${JSON.stringify(value)}`);
}

function asList(value: unknown, fn: string): unknown[] | Unresolved {
  if (value instanceof Unresolved) return value;
  if (Array.isArray(value)) return value;
  throw new Error(`${fn}: expected a list, got ${JSON.stringify(value)}`);
}

const INTRINSIC_KEYS = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Sub',
  'Fn::Join',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
  'Fn::FindInMap',
  'Fn::GetAZs',
  'Fn::ImportValue',
  'Fn::Base64',
  'Fn::Cidr',
  'Fn::Length',
  'Fn::ToJsonString',
  'Fn::Transform',
]);

/** Resolves every intrinsic in `value`; `NO_VALUE` entries are dropped from lists and maps. */
export function resolve(value: unknown, scope: IntrinsicScope): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => resolve(item, scope)).filter((item) => item !== NO_VALUE);
  }
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && INTRINSIC_KEYS.has(keys[0] as string)) {
    return evaluate(keys[0] as string, value[keys[0] as string], scope);
  }
  const out: Json = {};
  for (const key of keys) {
    const resolved = resolve(value[key], scope);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

/** Evaluates a condition expression (the body of a `Conditions` entry or the first argument of `Fn::If`). */
export function evaluateCondition(expr: unknown, scope: IntrinsicScope): boolean {
  if (typeof expr === 'boolean') return expr;
  if (typeof expr === 'string') return scope.condition(expr);
  if (isObject(expr) && Object.keys(expr).length === 1) {
    const [key] = Object.keys(expr) as [string];
    const arg = expr[key];
    switch (key) {
      case 'Condition':
        return scope.condition(String(arg));
      case 'Fn::Not':
        return !evaluateCondition(Array.isArray(arg) ? arg[0] : arg, scope);
      case 'Fn::And':
        return (arg as unknown[]).every((item) => evaluateCondition(item, scope));
      case 'Fn::Or':
        return (arg as unknown[]).some((item) => evaluateCondition(item, scope));
      case 'Fn::Equals': {
        const [a, b] = (arg as unknown[]).map((item) => resolve(item, scope));
        if (a instanceof Unresolved || b instanceof Unresolved) return false;
        return JSON.stringify(normalizeScalar(a)) === JSON.stringify(normalizeScalar(b));
      }
      default: {
        const resolved = resolve(expr, scope);
        if (typeof resolved === 'boolean') return resolved;
        if (resolved === 'true' || resolved === 'false') return resolved === 'true';
      }
    }
  }
  throw new Error(`condition: cannot evaluate ${JSON.stringify(expr)}`);
}

function normalizeScalar(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

function evaluate(fn: string, arg: unknown, scope: IntrinsicScope): unknown {
  switch (fn) {
    case 'Ref':
      return ref(String(resolve(arg, scope)), scope);
    case 'Fn::GetAtt': {
      const parts = resolve(arg, scope);
      const list = typeof parts === 'string' ? parts.split('.') : (parts as unknown[]);
      const [logicalId, ...rest] = list.map((p) => String(p));
      return scope.getAtt(logicalId as string, rest.join('.'));
    }
    case 'Fn::Sub':
      return sub(arg, scope);
    case 'Fn::Join': {
      const [delimiter, items] = arg as [unknown, unknown];
      const list = asList(resolve(items, scope), fn);
      if (list instanceof Unresolved) return list;
      const parts = list.map((item) => asString(item, fn));
      return firstUnresolved(parts) ?? parts.join(String(resolve(delimiter, scope)));
    }
    case 'Fn::Select': {
      const [index, items] = arg as [unknown, unknown];
      const list = asList(resolve(items, scope), fn);
      if (list instanceof Unresolved) return list;
      const i = Number(resolve(index, scope));
      if (!Number.isInteger(i) || i < 0 || i >= list.length)
        throw new Error(`Fn::Select: index ${i} out of range`);
      return list[i];
    }
    case 'Fn::Split': {
      const [delimiter, source] = arg as [unknown, unknown];
      const text = asString(resolve(source, scope), fn);
      return text instanceof Unresolved ? text : text.split(String(resolve(delimiter, scope)));
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = arg as [unknown, unknown, unknown];
      return resolve(evaluateCondition(condition, scope) ? whenTrue : whenFalse, scope);
    }
    case 'Fn::Equals':
    case 'Fn::Not':
    case 'Fn::And':
    case 'Fn::Or':
      return evaluateCondition({ [fn]: arg }, scope);
    case 'Fn::FindInMap':
      return findInMap(arg as unknown[], scope);
    case 'Fn::GetAZs': {
      const region = resolve(arg, scope);
      const name = typeof region === 'string' && region !== '' ? region : scope.region;
      return ['a', 'b', 'c'].map((suffix) => `${name}${suffix}`);
    }
    case 'Fn::ImportValue':
      return new Unresolved(`Fn::ImportValue ${JSON.stringify(resolve(arg, scope))}`);
    case 'Fn::Base64': {
      const text = asString(resolve(arg, scope), fn);
      return text instanceof Unresolved ? text : Buffer.from(text, 'utf8').toString('base64');
    }
    case 'Fn::Cidr': {
      const [block, count, bits] = resolve(arg, scope) as unknown[];
      return firstUnresolved([block, count, bits]) ?? cidr(String(block), Number(count), Number(bits));
    }
    case 'Fn::Length': {
      const list = asList(resolve(arg, scope), fn);
      return list instanceof Unresolved ? list : list.length;
    }
    case 'Fn::ToJsonString': {
      const resolved = resolve(arg, scope);
      return containsUnresolved(resolved)
        ? new Unresolved('Fn::ToJsonString of an unresolved value')
        : JSON.stringify(resolved);
    }
    default:
      return new Unresolved(`${fn} is not evaluated locally`);
  }
}

function containsUnresolved(value: unknown): boolean {
  if (value instanceof Unresolved) return true;
  if (Array.isArray(value)) return value.some(containsUnresolved);
  if (isObject(value)) return Object.values(value).some(containsUnresolved);
  return false;
}

function ref(name: string, scope: IntrinsicScope): unknown {
  const parameter = scope.refParameter(name);
  return parameter !== undefined ? parameter : scope.refResource(name);
}

/** `Fn::Sub`: `${Param}`, `${Resource.Attr}`, `${Var}` from the map, and `${!Literal}` escapes. */
function sub(arg: unknown, scope: IntrinsicScope): unknown {
  const [template, variables] = Array.isArray(arg) ? (arg as [unknown, unknown]) : [arg, {}];
  const text = asString(resolve(template, scope), 'Fn::Sub');
  if (text instanceof Unresolved) return text;
  const vars = (isObject(variables) ? variables : {}) as Json;
  let unresolved: Unresolved | undefined;
  const out = text.replace(/\$\{([^}]*)\}/g, (_whole, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
    const name = inner.trim();
    let value: unknown;
    if (Object.hasOwn(vars, name)) value = resolve(vars[name], scope);
    else if (name.includes('.') && !name.startsWith('AWS::')) {
      const dot = name.indexOf('.');
      value = scope.getAtt(name.slice(0, dot), name.slice(dot + 1));
    } else value = ref(name, scope);
    const str = value === NO_VALUE ? '' : asString(value, 'Fn::Sub');
    if (str instanceof Unresolved) {
      unresolved ??= str;
      return '';
    }
    return str;
  });
  return unresolved ?? out;
}

function findInMap(args: unknown[], scope: IntrinsicScope): unknown {
  const [mapName, topKey, secondKey, options] = args.map((a, i) => (i < 3 ? resolve(a, scope) : a));
  const unresolved = firstUnresolved([mapName, topKey, secondKey]);
  if (unresolved) return unresolved;
  const map = scope.mappings[String(mapName)] as Json | undefined;
  const top = map?.[String(topKey)] as Json | undefined;
  const value = top?.[String(secondKey)];
  if (value !== undefined) return resolve(value, scope);
  if (isObject(options) && 'DefaultValue' in options) return resolve(options.DefaultValue, scope);
  throw new Error(
    `Fn::FindInMap: ${String(mapName)}.${String(topKey)}.${String(secondKey)} is not in Mappings`,
  );
}

/** `Fn::Cidr` for IPv4 blocks: `count` consecutive subnets with `bits` host bits each. */
export function cidr(block: string, count: number, bits: number): string[] | Unresolved {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(block);
  if (!match) return new Unresolved(`Fn::Cidr of ${block} (only IPv4 is evaluated locally)`);
  const base = match.slice(1, 5).reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const prefix = Number(match[5]);
  const size = 2 ** bits;
  const network = base - (base % 2 ** (32 - prefix));
  if (32 - bits < prefix || count * size > 2 ** (32 - prefix)) {
    throw new Error(`Fn::Cidr: ${count} subnets of /${32 - bits} do not fit in ${block}`);
  }
  return Array.from({ length: count }, (_, i) => {
    const address = network + i * size;
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256);
    return `${octets.join('.')}/${32 - bits}`;
  });
}
