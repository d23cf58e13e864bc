/** `INTEGRATION_TARGET`: local (default), containers, emulator or aws. See target.ts. */
export type TargetName = 'local' | 'aws' | 'containers' | 'emulator';

export const TARGET: TargetName = parseTarget(process.env.INTEGRATION_TARGET);

function parseTarget(value: string | undefined): TargetName {
  const name = (value ?? '').trim() || 'local';
  if (name === 'local' || name === 'aws' || name === 'containers' || name === 'emulator') return name;
  throw new Error(`INTEGRATION_TARGET must be local, containers, emulator or aws, not "${value}"`);
}
