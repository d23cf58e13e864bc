/**
 * Route selection as API Gateway does it for WebSocket messages: the API's `RouteSelectionExpression`
 * (`$request.body.action`, nested paths such as `$request.body.meta.type`, or templates like
 * `${request.body.a}-${request.body.b}`) evaluated on the JSON text of a frame. A value that names no
 * route, or a frame that is not a JSON object, selects `$default`.
 */

const RESERVED = new Set(['$connect', '$disconnect']);

/** The route key for a message body, or undefined when neither a route nor `$default` matches. */
export function selectRoute(
  expression: string,
  body: string,
  routeKeys: { has(key: string): boolean },
): string | undefined {
  const key = evaluateSelectionExpression(expression, body);
  if (key !== undefined && !RESERVED.has(key) && routeKeys.has(key)) return key;
  return routeKeys.has('$default') ? '$default' : undefined;
}

/** The expression's value for this body, or undefined when it cannot be evaluated. */
export function evaluateSelectionExpression(expression: string, body: string): string | undefined {
  let parsed: unknown;
  let parsedOnce = false;
  const lookup = (path: string): string | undefined => {
    if (!parsedOnce) {
      parsedOnce = true;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
    }
    let value: unknown = parsed;
    for (const part of path.split('.')) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      value = (value as Record<string, unknown>)[part];
    }
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : undefined;
  };
  const whole = /^\$request\.body\.(.+)$/.exec(expression);
  if (whole) return lookup(whole[1] as string);
  if (expression.includes('${')) {
    let missing = false;
    const out = expression.replace(/\$\{request\.body\.([^}]+)\}/g, (_m, path: string) => {
      const value = lookup(path);
      if (value === undefined) missing = true;
      return value ?? '';
    });
    return missing ? undefined : out;
  }
  return undefined;
}
