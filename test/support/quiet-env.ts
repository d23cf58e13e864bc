/**
 * Runs before each test file: quiet Powertools output, and dummy AWS credentials for the SDK clients
 * pointed at local endpoints (never against a real AWS stage, where the default credential chain applies).
 */
Object.assign(process.env, {
  POWERTOOLS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: '1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});
if (process.env.INTEGRATION_TARGET !== 'aws') {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
}
process.removeAllListeners('warning');
