import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy a test can cut, to make a real service unreachable for one process. */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private readonly stalled = new Set<{ client: Socket; upstream: Socket }>();
  /** While set (by `blackholeAll()`), new connections are blackholed from their first byte. */
  private holding = false;
  private server: Server | undefined;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    public port = 0,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.listen();
    return proxy;
  }

  /** Drops every connection and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /**
   * Silently stops carrying bytes, both ways, on the open connections whose upstream side uses a
   * local port `matches` accepts (PostgreSQL shows it as `client_port`): no FIN, no RST, as when a
   * network path dies. The sockets stay open; new connections are carried as before.
   */
  blackhole(matches: (upstreamLocalPort: number) => boolean = () => true): number {
    let count = 0;
    for (const pair of this.pairs) {
      if (pair.upstream.localPort === undefined || !matches(pair.upstream.localPort)) continue;
      this.stall(pair);
      count++;
    }
    return count;
  }

  /**
   * A network path that dies for a while: blackholes every open connection and every new one
   * (accepted, but no byte carried either way) until `heal()`. Returns how many were open.
   */
  blackholeAll(): number {
    this.holding = true;
    return this.blackhole();
  }

  /**
   * The path comes back: the blackholed connections carry bytes again, starting with what was
   * sent meanwhile (TCP retransmits it), and new ones are carried as before.
   */
  heal(): void {
    this.holding = false;
    for (const pair of this.stalled) {
      if (!pair.client.destroyed && !pair.upstream.destroyed) this.carry(pair);
    }
    this.stalled.clear();
  }

  async restore(): Promise<void> {
    if (!this.server) await this.listen();
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on('close', () => {
        this.pairs.delete(pair);
        this.stalled.delete(pair);
      });
      if (this.holding) this.stall(pair);
      else this.carry(pair);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  private carry({ client, upstream }: { client: Socket; upstream: Socket }): void {
    client.pipe(upstream).pipe(client);
  }

  private stall(pair: { client: Socket; upstream: Socket }): void {
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
    this.stalled.add(pair);
  }
}
