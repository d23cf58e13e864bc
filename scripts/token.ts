/**
 * Prints a token signed with the local JWT_SECRET.
 *   npm run token -- --user u1 --name Ann --role teacher --rooms r1,r2 [--ttl 3600]
 * The secret comes from $JWT_SECRET, else from the file `npm run dev` writes (.local/jwt-secret).
 */
import { parseArgs } from 'node:util';
import { localSecret, mintToken } from '../local/tokens';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      user: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string', default: 'student' },
      rooms: { type: 'string' },
      ttl: { type: 'string', default: String(8 * 3600) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.user || !values.rooms) {
    console.error(
      'usage: npm run token -- --user u1 [--name Ann] [--role teacher|student] --rooms r1,r2 [--ttl seconds]',
    );
    process.exit(values.help ? 0 : 2);
  }
  if (values.role !== 'teacher' && values.role !== 'student') {
    console.error('--role must be teacher or student');
    process.exit(2);
  }
  const secret = localSecret();
  if (!secret) {
    console.error('No JWT_SECRET: set it, or start `npm run dev` once (it writes .local/jwt-secret).');
    process.exit(2);
  }
  const token = await mintToken(secret, {
    userId: values.user,
    name: values.name,
    role: values.role,
    rooms: values.rooms
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
    ttlSeconds: Number(values.ttl),
  });
  console.log(token);
}

void main();
