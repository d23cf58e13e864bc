/** Secrets Manager reads through Powertools Parameters: fetched once per cold start, refreshed every 5 minutes. */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';

const MAX_AGE_SECONDS = 300;

export async function secretString(secretArn: string): Promise<string> {
  const value = await getSecret(secretArn, { maxAge: MAX_AGE_SECONDS });
  if (typeof value !== 'string' || value.length === 0) {
    throw new Error(`Secret ${secretArn} has no string value`);
  }
  return value;
}
