/** `npm run deploy:emulator -- --store …`: which configuration of the template scripts/emulator.ts deploys. */
import { parseStore } from '../../scripts/emulator';

describe('Function: parseStore', () => {
  it('deploys the default (ElastiCache) without the flag, DynamoDB with --store dynamodb in either form', () => {
    expect(parseStore([])).toBe('redis');
    expect(parseStore(['--no-test'])).toBe('redis');
    expect(parseStore(['--store', 'dynamodb'])).toBe('dynamodb');
    expect(parseStore(['--no-test', '--store=DynamoDB'])).toBe('dynamodb');
    expect(parseStore(['--store', 'elasticache'])).toBe('redis');
    expect(parseStore(['--store=redis'])).toBe('redis');
  });

  it('refuses another store, or the flag without a value, naming what it got', () => {
    expect(() => parseStore(['--store', 'memcached'])).toThrow(
      '--store must be dynamodb or elasticache, not "memcached"',
    );
    expect(() => parseStore(['--store'])).toThrow('not ""');
  });
});
