// A redis-server of a test's own on a free port, which the test can stop and start again to make
// an outage. It keeps nothing on disk, so a restarted server is empty.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createConnection, createServer } from "node:net";
import { after } from "node:test";

const START_TIMEOUT_MS = 5000;

export class RedisServer {
  private process: ChildProcess | null = null;
  /** The server's last output lines, for the message when it fails to start. */
  private output = "";

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on its port and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.process) return;
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    this.output = "";
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-2000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let spawnError = null as Error | null;
    child.on("error", (error) => (spawnError = error));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answersPing(this.port))) {
      if (spawnError || child.exitCode !== null || Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server did not start on port ${this.port}: ${spawnError ? `${spawnError.message} (is it installed?)` : this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends a signal and returns at once: SIGSTOP and SIGCONT make an unreachable Redis whose connections stay open. */
  signal(signal: "SIGSTOP" | "SIGCONT" | "SIGKILL"): void {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    child.kill("SIGCONT"); // a stopped server handles its SIGTERM only once it runs again
    await exited;
  }
}

/**
 * Starts a redis-server on a free port, stopped when the test file ends (whether or not its
 * tests pass). Call it at the top level of a test file: `after` binds to the context it is called in.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const server = new RedisServer(await freePort());
  after(() => server.stop());
  await server.start();
  return server;
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no TCP port was assigned");
  return address.port;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(500, () => finish(false));
    socket.on("error", () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}
