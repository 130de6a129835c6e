// A TCP proxy between the soak's clients and haproxy: every byte passes unchanged, and `cut()`
// resets every connection open through it at once, as a flaky network does (the client sees its
// socket reset; haproxy and the pod see theirs closed).
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";

export class CuttingProxy {
  private readonly server: Server;
  /** Each connection's two sockets: the client's and the one to haproxy. */
  private readonly open = new Set<[Socket, Socket]>();
  /** Connections reset by cut(), in all. */
  cuts = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.relay(client));
  }

  /** Listens on a free port of 127.0.0.1 and relays to `target` (haproxy's address). */
  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    const proxy = new CuttingProxy(target);
    proxy.server.listen(0, "127.0.0.1");
    await once(proxy.server, "listening");
    return proxy;
  }

  /** http://127.0.0.1:PORT: where clients connect. */
  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy is not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  get connections(): number {
    return this.open.size;
  }

  /** Resets every connection open now; returns how many. */
  cut(): number {
    const pairs = [...this.open];
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.open.clear();
    this.cuts += pairs.length;
    return pairs.length;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket): void {
    const upstream = createConnection(this.target);
    const pair: [Socket, Socket] = [client, upstream];
    this.open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side going ends the other: a half-open pair would hold a client that waits forever.
    const end = () => {
      this.open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.setNoDelay(true);
      socket.on("error", end);
      socket.on("close", end);
    }
  }
}
