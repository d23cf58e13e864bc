/**
 * A moto server (an SQS-compatible endpoint) for the publish test: `.venv/bin/moto_server` (or
 * `MOTO_SERVER`) started on a free 127.0.0.1 port, stopped after the tests.
 * Install it with `python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../../test/support/redis-server';

export const MOTO_SERVER =
  process.env.MOTO_SERVER ?? join(__dirname, '..', '..', '.venv', 'bin', 'moto_server');

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** Why moto cannot run here, or undefined when it can. */
export function motoUnavailable(): string | undefined {
  try {
    accessSync(MOTO_SERVER, constants.X_OK);
    return undefined;
  } catch {
    return `moto server not found at ${MOTO_SERVER} (install: python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt, or set MOTO_SERVER)`;
  }
}

function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/moto-api/`, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Starts moto on 127.0.0.1; resolves once it answers HTTP (at most `timeoutMs`). */
export async function startMoto(timeoutMs = 20_000): Promise<MotoServer> {
  const reason = motoUnavailable();
  if (reason) throw new Error(reason);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `moto_server did not start on ${endpoint}: ${output.trim() || `exit ${child.exitCode}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { endpoint, stop };
}
