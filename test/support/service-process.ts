import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The built service (`npm run build`), as production runs it. */
export const MAIN = path.join(ROOT, 'dist', 'main.js');

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  proc: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  logs: () => string;
}

/**
 * Boots `node dist/main.js` with exactly `env` (plus PATH and HOME) and waits until `ready` says
 * so: by default until `/health/ready` on `port` answers 200. Fails with the logs when the process
 * exits first or is not ready within 60 s.
 */
export async function startService(
  env: NodeJS.ProcessEnv,
  port: number,
  ready: (logs: string) => Promise<boolean> | boolean = async () =>
    (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.status === 200,
): Promise<ServiceProcess> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited with ${proc.exitCode}:\n${out}`);
    if (await ready(out)) break;
    if (Date.now() > deadline) throw new Error(`service not ready after 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, logs: () => out };
}

/**
 * A tiny client for a service process on loopback: `api(method, path, token?, body?)` answers the
 * parsed JSON envelope, or the raw text of a non-JSON answer (an SSE stream).
 */
export function serviceApi(
  port: number,
): (method: string, path: string, token?: string, body?: unknown) => Promise<any> {
  return async (method, path, token, body) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
  };
}

/**
 * Registers an account over HTTP on a service process and returns a function that signs it in
 * again (sessions survive a restart of the process; tokens are asked for afresh after one).
 */
export async function signUpOverHttp(
  port: number,
  email: string,
  password: string,
): Promise<() => Promise<string>> {
  const api = serviceApi(port);
  const reg = await api('POST', '/account/register', undefined, {
    email,
    password,
    name: 'Restart User',
  });
  if (reg.code !== 'success') throw new Error(`register failed: ${reg.code} ${reg.message}`);
  return async () =>
    (await api('POST', '/auth/password-login', undefined, { email, password })).data
      .access_token as string;
}
