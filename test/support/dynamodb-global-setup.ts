/**
 * Jest global setup of the DynamoDB targets (project `handlers-dynamodb`; `integration-dynamodb` and
 * `client-dynamodb` may share it): one local DynamoDB for the whole run (local/dynamodb.ts: the endpoint the
 * environment names, else a moto server from the venv applying one request at a time) with template.yaml's
 * ClassroomTable of the Store=DynamoDB configuration, named for this run. Its endpoint and table go to
 * TEST_DYNAMODB_ENDPOINT and TEST_TABLE_NAME; each test file of a DynamoDB project sets TEST_STORE=dynamodb
 * (test/support/dynamodb-target.ts).
 */
import { type LocalDynamoDB, startLocalDynamoDB } from '../../local/dynamodb';

export default async function dynamodbGlobalSetup(): Promise<void> {
  if (process.env.TEST_DYNAMODB_ENDPOINT && process.env.TEST_TABLE_NAME) return; // another project started it
  const started = Date.now();
  const local = await startLocalDynamoDB({ stackName: `test-${process.pid}-${Date.now().toString(36)}` });
  process.env.TEST_DYNAMODB_ENDPOINT = local.endpoint;
  process.env.TEST_TABLE_NAME = local.tableName;
  (globalThis as { __dynamodb?: LocalDynamoDB }).__dynamodb = local;
  console.log(
    `\n[dynamodb target] ${local.origin} at ${local.endpoint}, table ${local.tableName}, ready in ${Date.now() - started} ms`,
  );
}
