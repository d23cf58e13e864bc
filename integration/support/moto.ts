/**
 * A moto server (SQS and Secrets Manager endpoints) for the tests, started as the emulator starts one
 * (local/resources.ts): `MOTO_SERVER`, `.venv/bin/moto_server` of this repository, or `moto_server` on PATH,
 * on a free 127.0.0.1 port. Install it with `bash scripts/venv.sh`.
 */
import { join } from 'node:path';
import { type AwsEndpoint, findMotoServer, startMotoServer } from '../../local/resources';

export type MotoServer = Pick<AwsEndpoint, 'endpoint' | 'stop'>;

const REPO = join(__dirname, '..', '..');

/** Why moto cannot run here, or undefined when it can. */
export function motoUnavailable(): string | undefined {
  return findMotoServer([REPO])
    ? undefined
    : 'moto server not found (install: bash scripts/venv.sh, which puts it in .venv/bin; or set MOTO_SERVER)';
}

/** Starts moto on 127.0.0.1; resolves once it answers HTTP (at most `timeoutMs`). */
export async function startMoto(timeoutMs = 30_000): Promise<MotoServer> {
  const path = findMotoServer([REPO]);
  if (!path) throw new Error(motoUnavailable());
  return startMotoServer(path, timeoutMs);
}
