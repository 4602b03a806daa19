import { ChildProcess, fork } from 'node:child_process';

/** What every bench child answers: the request id it replies to, and its CPU on `{type: 'cpu'}`. */
export interface IpcReply {
  id?: number;
  cpu?: NodeJS.CpuUsage;
}

/**
 * A TypeScript helper process of a benchmark (a fake server), forked through ts-node and driven
 * over IPC: its first message says it is ready, then each `call` is answered by id.
 */
export class IpcChild<Req extends { type: string }, Reply extends IpcReply> {
  private seq = 0;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: Reply) => {
      const resolve = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (resolve) {
        this.pending.delete(reply.id!);
        resolve(reply);
      }
    });
  }

  /** Forks `script` with extra `env` and waits for its ready message. */
  static async start<Req extends { type: string }, Reply extends IpcReply>(
    script: string,
    env: Record<string, string>,
    what: string,
  ): Promise<{ child: IpcChild<Req, Reply>; ready: Reply }> {
    const proc = fork(script, [], {
      execPath: process.execPath,
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<Reply>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
      proc.once('message', (reply: Reply) => resolve(reply));
    });
    proc.removeAllListeners('exit');
    proc.removeAllListeners('error');
    return { child: new IpcChild<Req, Reply>(proc), ready };
  }

  call(msg: Req): Promise<Reply> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ ...msg, id });
    });
  }

  /** The child's CPU time so far (user + system), ms. */
  async cpuMs(): Promise<number> {
    const { cpu } = await this.call({ type: 'cpu' } as Req);
    return (cpu!.user + cpu!.system) / 1000;
  }

  /** Asks the child to close, SIGKILL after 5 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ id: ++this.seq, type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
