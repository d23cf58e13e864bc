import type { LocalDynamoDB } from '../../local/dynamodb';

export default async function dynamodbGlobalTeardown(): Promise<void> {
  const g = globalThis as { __dynamodb?: LocalDynamoDB };
  await g.__dynamodb?.stop();
  g.__dynamodb = undefined;
}
