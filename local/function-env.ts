/**
 * The environment the handlers get when they run locally instead of on AWS: a plain Redis URL instead of
 * the ElastiCache endpoint and its auth-token secret, the JWT secret itself instead of its Secrets Manager
 * ARN, and the local management API. Applied over each function's template environment.
 */
export interface LocalFunctionEnv {
  redisUrl: string;
  jwtSecret: string;
  managementEndpoint: string;
  /** Verify tokens against a JWKS instead of the local secret. */
  jwksUrl?: string;
  /** Powertools log level of the handlers (default SILENT). */
  logLevel?: string;
  /** EMF metrics on stdout (default off). */
  metrics?: boolean;
}

export function localFunctionEnv(options: LocalFunctionEnv): Record<string, string> {
  return {
    REDIS_URL: options.redisUrl,
    REDIS_AUTH_SECRET_ARN: '',
    JWT_SECRET: options.jwtSecret,
    JWT_SECRET_ARN: '',
    JWKS_URL: options.jwksUrl ?? '',
    MANAGEMENT_ENDPOINT: options.managementEndpoint,
    POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'SILENT',
  };
}
