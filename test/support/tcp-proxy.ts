import { createConnection, createServer, Server, Socket } from 'node:net';

function flow([a, b]: [Socket, Socket]): void {
  a.pipe(b);
  b.pipe(a);
}

function stop([a, b]: [Socket, Socket]): void {
  a.unpipe(b);
  b.unpipe(a);
  a.pause();
  b.pause();
}

/**
 * A loopback TCP proxy a test can cut (connections refused and dropped) or freeze (connections
 * stay open, nothing flows): a database outage without touching the shared database server.
 */
export class TcpProxy {
  private server?: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private frozen = false;

  private constructor(
    private readonly target: { host: string; port: number },
    public port = 0,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.listen();
    return proxy;
  }

  /** Listens (again) on the same port. */
  async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.target);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      if (!this.frozen) flow(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** A dead server: open connections dropped, new ones refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    if (server) await new Promise((r) => server.close(r));
  }

  /** A hung server: connections stay open, nothing passes either way. */
  freeze(): void {
    this.frozen = true;
    for (const pair of this.pairs) stop(pair);
  }

  thaw(): void {
    this.frozen = false;
    for (const pair of this.pairs) flow(pair);
  }
}
