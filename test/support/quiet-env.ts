/** Runs before each test file: quiet Powertools output and dummy AWS credentials for the local SDK clients. */
Object.assign(process.env, {
  POWERTOOLS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
  AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: '1',
});
process.removeAllListeners('warning');
