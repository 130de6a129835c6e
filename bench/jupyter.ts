// The peer: jupyter-server with ipykernel, driven the way its own front ends do it: REST to start
// a kernel, then Jupyter's messaging protocol v5 as JSON over the kernel's WebSocket
// (/api/kernels/{id}/channels): execute_request on shell; stream and status on iopub.
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import WebSocket from "ws";
import type { CellOptions, Driver, DriverSession } from "./driver.ts";
import { freePort, ServerProcess } from "./processes.ts";

export const INSTALL_HINT = "apt-get install python3-jupyter-server python3-ipykernel";

const START_TIMEOUT_MS = 60_000;
/** A request of the bench unanswered this long means the kernel hung. */
const REQUEST_TIMEOUT_MS = 60_000;
const PROTOCOL_VERSION = "5.3";

export interface JupyterInstall {
  python: string;
  /** "jupyter-server 1.23.3, ipykernel 6.17.0" */
  versions: string;
}

/**
 * The first Python that imports both jupyter_server and ipykernel: JUPYTER_PYTHON if set, then
 * `python3` on the PATH, then the system's (a pyenv or venv python3 on the PATH often lacks the
 * Debian packages). Null when none does.
 */
export async function findJupyter(): Promise<JupyterInstall | null> {
  const candidates = [process.env.JUPYTER_PYTHON, "python3", "/usr/bin/python3"].filter((python): python is string => Boolean(python));
  const probe = "import jupyter_server, ipykernel; print(f'jupyter-server {jupyter_server.__version__}, ipykernel {ipykernel.__version__}')";
  for (const python of new Set(candidates)) {
    try {
      const { stdout } = await promisify(execFile)(python, ["-c", probe], { timeout: 20_000 });
      return { python, versions: stdout.trim() };
    } catch {
      // not installed for this interpreter; try the next
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// One kernel over its WebSocket.

interface JupyterMessage {
  channel: "shell" | "iopub" | "stdin" | "control";
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
}

/** A request in flight: done once its reply has come on shell AND the kernel said idle on iopub. */
interface Pending {
  replied: boolean;
  idle: boolean;
  error: string | null;
  onStdout?: (text: string) => void;
  resolve(): void;
  reject(error: Error): void;
}

export class Kernel implements DriverSession {
  private readonly session = randomUUID();
  private readonly pending = new Map<string, Pending>();

  private constructor(
    private readonly api: JupyterApi,
    readonly id: string,
    private readonly socket: WebSocket,
  ) {
    socket.on("message", (data) => this.receive(JSON.parse(data.toString()) as JupyterMessage));
    socket.on("close", () => this.failAll(new Error(`the WebSocket of kernel ${id} closed`)));
    socket.on("error", (error) => this.failAll(error));
  }

  /** Starts a kernel and resolves once it has answered a kernel_info_request: it can run code then. */
  static async open(api: JupyterApi): Promise<Kernel> {
    const { id } = (await api.call("POST", "/api/kernels", { name: "python3" })) as { id: string };
    try {
      const socket = new WebSocket(`${api.wsUrl}/api/kernels/${id}/channels`, { headers: api.headers, handshakeTimeout: REQUEST_TIMEOUT_MS });
      await new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      });
      const kernel = new Kernel(api, id, socket);
      await kernel.request("kernel_info_request", {});
      return kernel;
    } catch (error) {
      await api.call("DELETE", `/api/kernels/${id}`).catch(() => {});
      throw error;
    }
  }

  execute(code: string, options: CellOptions = {}): Promise<void> {
    const content = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true };
    return this.request("execute_request", content, options.onStdout);
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.api.call("DELETE", `/api/kernels/${this.id}`);
  }

  private request(msgType: string, content: object, onStdout?: (text: string) => void): Promise<void> {
    const msgId = randomUUID();
    const message = {
      header: { msg_id: msgId, msg_type: msgType, username: "bench", session: this.session, date: new Date().toISOString(), version: PROTOCOL_VERSION },
      parent_header: {},
      metadata: {},
      content,
      channel: "shell",
      buffers: [],
    };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`kernel ${this.id} did not finish ${msgType} within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
      const settle = (error: Error | null) => {
        clearTimeout(timer);
        this.pending.delete(msgId);
        if (error) reject(error);
        else resolve();
      };
      this.pending.set(msgId, { replied: false, idle: false, error: null, onStdout, resolve: () => settle(null), reject: settle });
      this.socket.send(JSON.stringify(message));
    });
  }

  private receive(message: JupyterMessage): void {
    const pending = this.pending.get(message.parent_header.msg_id ?? "");
    if (!pending) return; // the server's own requests, or the kernel's start-up status
    const { msg_type: type } = message.header;
    if (message.channel === "shell" && type.endsWith("_reply")) {
      pending.replied = true;
      if (message.content.status === "error") pending.error = `${message.content.ename}: ${message.content.evalue}`;
    } else if (message.channel === "iopub" && type === "stream" && message.content.name === "stdout") {
      pending.onStdout?.(message.content.text as string);
    } else if (message.channel === "iopub" && type === "status" && message.content.execution_state === "idle") {
      pending.idle = true;
    }
    if (!pending.replied || !pending.idle) return;
    if (pending.error) pending.reject(new Error(`jupyter cell failed: ${pending.error}`));
    else pending.resolve();
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
  }
}

// ---------------------------------------------------------------------------------------------
// The server.

/** The REST side: token-authenticated, which also exempts requests from the XSRF check. */
export class JupyterApi {
  readonly wsUrl: string;
  readonly headers: Record<string, string>;

  constructor(
    readonly url: string,
    token: string,
  ) {
    this.wsUrl = url.replace(/^http/, "ws");
    this.headers = { authorization: `token ${token}` };
  }

  async call(method: string, path: string, body?: object): Promise<unknown> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      headers: { ...this.headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`jupyter ${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : null;
  }
}

class JupyterDriver implements Driver {
  readonly name = "jupyter";
  // Jupyter has no locals option and sends no variables back; its one way of running a cell is
  // compared with wasm-repl's default, locals "all".
  readonly localsModes = ["all"] as const;

  constructor(
    private readonly server: ServerProcess,
    private readonly api: JupyterApi,
  ) {}

  get serverPid(): number {
    return this.server.pid;
  }

  /** Jupyter starts a kernel per session: it is always as ready as it gets. */
  async ready(): Promise<boolean> {
    return true;
  }

  open(): Promise<DriverSession> {
    return Kernel.open(this.api);
  }

  /** SIGTERM: the server shuts its kernels down before it exits. */
  stop(): Promise<void> {
    return this.server.stop();
  }
}

async function waitUntilServing(server: ServerProcess, api: JupyterApi): Promise<void> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!server.alive) throw server.failure("exited while starting");
    if (performance.now() > deadline) throw server.failure(`did not answer within ${START_TIMEOUT_MS} ms`);
    try {
      await api.call("GET", "/api/status");
      return;
    } catch {
      await sleep(100);
    }
  }
}

export async function startJupyter(install: JupyterInstall): Promise<Driver> {
  const token = randomBytes(24).toString("hex");
  const port = await freePort();
  // Its runtime files (connection files, server info) and root go to a scratch directory, removed at the end.
  const scratch = await mkdtemp(join(tmpdir(), "wasm-repl-bench-jupyter-"));
  const inherited = ["PATH", "HOME"].flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : []));
  const server = new ServerProcess({
    name: "jupyter-server",
    command: install.python,
    args: [
      "-m",
      "jupyter_server",
      `--ServerApp.token=${token}`,
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      "--no-browser",
      `--ServerApp.root_dir=${scratch}`,
      // A SIGINT that reaches it anyway stops it at once instead of asking on stdin.
      "--ServerApp.answer_yes=True",
      // It refuses to start as root otherwise (containers, CI); it only listens on loopback here.
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ],
    env: { ...Object.fromEntries(inherited), JUPYTER_RUNTIME_DIR: join(scratch, "runtime") },
    cleanUp: () => rm(scratch, { recursive: true, force: true }),
  });
  const api = new JupyterApi(`http://127.0.0.1:${port}`, token);
  try {
    await waitUntilServing(server, api);
    return new JupyterDriver(server, api);
  } catch (error) {
    await server.stop();
    throw error;
  }
}
