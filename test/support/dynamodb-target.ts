/**
 * Setup file of the DynamoDB projects (`handlers-dynamodb`), run before each test file: the harness gives the
 * handlers STORE=dynamodb with the run's local table (test/support/dynamodb-global-setup.ts) and inspects the
 * store through DynamoDB. Each test file has its own process.env.
 */
if (!process.env.TEST_DYNAMODB_ENDPOINT || !process.env.TEST_TABLE_NAME)
  throw new Error(
    'TEST_DYNAMODB_ENDPOINT / TEST_TABLE_NAME are not set: run through the jest "handlers-dynamodb" project',
  );
process.env.TEST_STORE = 'dynamodb';
