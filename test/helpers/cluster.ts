// A cluster of a test's own: a redis-server, several wasm-repl servers ("pods") run as child
// processes (`node --import tsx server/main.ts`) sharing it, and haproxy in front of them with
// `balance roundrobin` (the worst case for stickiness) and a health check on GET /ready.
//
//   const cluster = await startCluster();          // at the top level of a test file
//   const token = await cluster.token("alice");
//   const session = await ReplSession.open(cluster.url, { token });   // through haproxy
//   await cluster.pods[0].kill("SIGTERM");          // resolves once the process has exited
//   await cluster.pods[0].start();                  // the same name, port and environment
//
// Everything is stopped when the test file ends (`after`), whatever happened: haproxy, the pods
// (SIGTERM, then SIGKILL after a grace period), sandboxes orphaned by a killed pod, and Redis.
// Outside a test (the soak benchmark, bench/soak/) `launchCluster` starts the same cluster and the
// caller stops it. Set CLUSTER_KEEP_LOGS=1 to keep each process's full output (the directory is printed).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { OutputTail } from "./output-tail.ts";
import { freePort, RedisServer } from "./redis-server.ts";

const REPO_ROOT = join(import.meta.dirname, "../..");
const HAPROXY = process.env.HAPROXY ?? "/usr/sbin/haproxy";
const START_TIMEOUT_MS = 90_000;
/** A pod told to stop (at the end, or by kill without a limit of its own) gets this long before SIGKILL. */
const STOP_GRACE_MS = 20_000;
const OUTPUT_TAIL_CHARS = 256 * 1024;
const USER_SCOPE = "sessions:create sessions:execute sessions:read";

/** The environment every pod gets, under the per-pod variables and `env` of the options. */
export const CLUSTER_POD_ENV: Readonly<Record<string, string>> = {
  POOL_SIZE: "2",
  HIBERNATE_AFTER: "0",
  DRAIN_TIMEOUT: "10",
  CHECKPOINT_AFTER: "1",
  POD_HEARTBEAT_TTL: "2",
  // A pod's event loop stalls for a second at times on a loaded two-core machine (three pods,
  // their sandboxes and haproxy share it): a reply that waited out such a stall is not an outage.
  REDIS_COMMAND_TIMEOUT: "5",
  TENANT_MAX_SESSIONS: "100",
  TENANT_OPEN_RATE: "1000",
  TENANT_MAX_RUNNING: "40",
  MAX_SESSIONS: "40",
  LOG_LEVEL: "info",
};

export interface ClusterOptions {
  /** The pods' names (POD_NAME); default pod-a, pod-b, pod-c. */
  pods?: string[];
  /** Variables for every pod, over CLUSTER_POD_ENV. */
  env?: Record<string, string>;
  /** haproxy's health check interval, ms (default 500); a pod is down after 3 failed checks. */
  checkIntervalMs?: number;
}

export interface PodExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the signal (or the stop) to the exit. */
  ms: number;
  /** The pod did not exit within the limit and was killed with SIGKILL. */
  killedAfterTimeout: boolean;
}

/** One wasm-repl server of the cluster, as a child process; restartable with the same name and port. */
export class Pod {
  readonly url: string;
  /** host:port, its POD_ADDRESS. */
  readonly address: string;
  /** The current (or last) process; null before the first start. */
  process: ChildProcess | null = null;
  private readonly output: OutputTail;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  private log: WriteStream | null = null;
  private starts = 0;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly orphans: OrphanWatch,
  ) {
    this.output = new OutputTail(name, OUTPUT_TAIL_CHARS, () => this.alive);
    this.url = `http://127.0.0.1:${port}`;
    this.address = `127.0.0.1:${port}`;
  }

  get alive(): boolean {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Resolves when the current process has exited (at once when there is none). */
  get exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }

  /** Its output (stdout JSON log lines and stderr) since it last started, the newest 256 KiB. */
  get text(): string {
    return this.output.value;
  }

  /** Its JSON log lines since it last started (the kept tail), parsed. */
  logLines(): Array<Record<string, unknown>> {
    return this.output.value.split("\n").flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** Starts the server (again: same name, port and environment) and waits for its "listening on" line. */
  async start(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    if (this.alive) return;
    this.output.clear();
    this.starts++;
    this.log?.end();
    this.log = createWriteStream(join(this.logDir, `${this.name}.${this.starts}.log`));
    const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: REPO_ROOT,
      env: this.env,
      // In the test's process group (not detached): a Ctrl-C in the terminal stops it too.
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    this.exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    const log = this.log;
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        log.write(text);
        if (this.process === child) this.output.append(text);
      });
    }
    await this.waitForOutput(/listening on http:\/\/\S+/, timeoutMs);
  }

  /**
   * Sends the signal to the server process (not its sandboxes: they see their server go, as in a
   * pod) and waits for it to exit; after `timeoutMs` it is killed with SIGKILL.
   */
  async kill(signal: NodeJS.Signals = "SIGTERM", timeoutMs = STOP_GRACE_MS): Promise<PodExit> {
    const child = this.process;
    const started = performance.now();
    if (!child || !this.alive) {
      const { code, signal: exitSignal } = await this.exit;
      return { code, signal: exitSignal, ms: 0, killedAfterTimeout: false };
    }
    // Its sandboxes outlive it for a moment when it is killed; remember them to clean up after.
    await this.orphans.remember(child.pid!);
    child.kill(signal);
    if (signal !== "SIGKILL") child.kill("SIGCONT"); // a stopped pod handles the signal only once it runs again
    const exited = await Promise.race([this.exit.then(() => true), sleep(timeoutMs, false, { ref: false })]);
    if (!exited) child.kill("SIGKILL");
    const { code, signal: exitSignal } = await this.exit;
    return { code, signal: exitSignal, ms: performance.now() - started, killedAfterTimeout: !exited };
  }

  /** Sends a signal that does not end the process (SIGSTOP, SIGCONT: a stalled node), and returns at once. */
  signal(signal: "SIGSTOP" | "SIGCONT"): void {
    if (this.alive) this.process!.kill(signal);
  }

  /** The first match of pattern in the output since the last start, waiting for it up to timeoutMs. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return this.output.waitFor(pattern, timeoutMs, this.exit);
  }

  /** Ends the log file (at the very end). */
  closeLog(): void {
    this.log?.end();
    this.log = null;
  }
}

export interface ProxyServerState {
  /** The haproxy server name: a pod's name, or `<pod>-fallback` for the backup entries. */
  name: string;
  /** UP, DOWN, MAINT, "no check" (the fallbacks)... */
  status: string;
  /** Connections (sessions) it has been given so far. */
  total: number;
  /** Connections open to it now. */
  current: number;
}

export interface Cluster {
  /** haproxy: http://127.0.0.1:PORT */
  url: string;
  pods: Pod[];
  redis: RedisServer;
  keyPrefix: string;
  secret: string;
  /** A token of tenant `tenant` (default acme) for `user` (default alice) with every scope but tenant:admin, valid `ttlSeconds` (default 1 h). */
  token(user?: string, tenant?: string, ttlSeconds?: number): Promise<string>;
  pod(name: string): Pod;
  /** A session's record in Redis (the hash's fields, as strings), or null. */
  record(id: string): Promise<Record<string, string> | null>;
  /** Every session record in Redis now, by id. */
  records(): Promise<Map<string, Record<string, string>>>;
  /** A connection to the cluster's Redis (opened on first use, closed by stop). */
  redisClient(): Redis;
  /** The pod each session's record names (null: none, e.g. hibernated or ended). */
  owners(ids: readonly string[]): Promise<Map<string, string | null>>;
  /** haproxy's view of its servers. */
  proxyStats(): Promise<ProxyServerState[]>;
  /** Waits until haproxy's health check says `pod` is `status` (UP or DOWN). */
  waitForProxy(pod: string, status: "UP" | "DOWN", timeoutMs?: number): Promise<void>;
  /** Starts every pod that is not running and waits until haproxy sees all of them UP. */
  ensureAllUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts Redis, the pods and haproxy; all are stopped when the test file ends. Call it at the top
 * level of a test file (`after` binds to the context it is called in).
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  let cluster: Cluster | null = null;
  after(() => cluster?.stop());
  cluster = await launchCluster(options);
  return cluster;
}

/**
 * Starts Redis, the pods and haproxy, for a caller that stops them itself (`stop()`); should the
 * process exit first, its children are killed on the way out.
 */
export async function launchCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const names = options.pods ?? ["pod-a", "pod-b", "pod-c"];
  const dir = await mkdtemp(join(tmpdir(), "wasm-repl-cluster-"));
  const orphans = new OrphanWatch();
  const secret = randomBytes(32).toString("hex");
  const keyPrefix = `wasm-repl-cluster:${process.pid}:${Date.now()}:`;
  const redis = new RedisServer(await freePort());
  const pods: Pod[] = [];
  let haproxy: ChildProcess | null = null;
  let haproxyOutput = "";
  let client: Redis | null = null;
  let stopping: Promise<void> | null = null;

  const stop = () =>
    (stopping ??= (async () => {
      if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
        const exited = new Promise((resolve) => haproxy!.once("exit", resolve));
        haproxy.kill("SIGTERM");
        await Promise.race([exited, sleep(5000, null, { ref: false }).then(() => haproxy!.kill("SIGKILL"))]);
      }
      await Promise.all(pods.map((pod) => pod.kill("SIGTERM")));
      client?.disconnect();
      await redis.stop();
      await orphans.killSurvivors();
      for (const pod of pods) pod.closeLog();
      process.off("exit", killAll);
      if (process.env.CLUSTER_KEEP_LOGS) process.stderr.write(`cluster logs kept in ${dir}\n`);
      else await rm(dir, { recursive: true, force: true });
    })());
  // The last resort, if the process ends without stopping the cluster: nothing of ours outlives it.
  const killAll = () => {
    for (const child of [haproxy, ...pods.map((pod) => pod.process)]) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    redis.signal("SIGKILL");
  };
  process.once("exit", killAll);
  try {
    return await launch();
  } catch (error) {
    await stop();
    throw error;
  }

  async function launch(): Promise<Cluster> {
    await redis.start();
    const ports = await distinctFreePorts(names.length + 2);
    const inherited = ["PATH", "HOME", "TMPDIR", "CACHE_DIR"].flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : []));
    names.forEach((name, index) => {
      const port = ports[index]!;
      const env = {
        ...Object.fromEntries(inherited),
        ...CLUSTER_POD_ENV,
        ...options.env,
        HOST: "127.0.0.1",
        PORT: String(port),
        POD_NAME: name,
        POD_ADDRESS: `127.0.0.1:${port}`,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: keyPrefix,
        JWT_SECRET: secret,
      };
      pods.push(new Pod(name, port, env, dir, orphans));
    });
    // One at a time: the first may build the base snapshot, which the others then share.
    await pods[0]!.start();
    await Promise.all(pods.slice(1).map((pod) => pod.start()));

    const proxyPort = ports[names.length]!;
    const statsPort = ports[names.length + 1]!;
    const config = haproxyConfig(pods, proxyPort, statsPort, options.checkIntervalMs ?? 500);
    const configPath = join(dir, "haproxy.cfg");
    await writeFile(configPath, config);
    haproxy = spawn(HAPROXY, ["-f", configPath, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [haproxy.stdout!, haproxy.stderr!]) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => (haproxyOutput = (haproxyOutput + text).slice(-8000)));
    }
    haproxy.once("error", (error) => (haproxyOutput += `\n${error.message} (is haproxy installed at ${HAPROXY}?)`));

    const statsUrl = `http://127.0.0.1:${statsPort}/stats;csv`;
    const proxyStats = async (): Promise<ProxyServerState[]> => {
      const response = await fetch(statsUrl);
      const [header, ...rows] = (await response.text()).trim().split("\n");
      const columns = header!.replace(/^# /, "").split(",");
      const at = (row: string[], column: string) => row[columns.indexOf(column)] ?? "";
      return rows
        .map((line) => line.split(","))
        .filter((row) => at(row, "pxname") === "pods" && at(row, "svname") !== "BACKEND" && at(row, "svname") !== "FRONTEND")
        .map((row) => ({ name: at(row, "svname"), status: at(row, "status"), total: Number(at(row, "stot")), current: Number(at(row, "scur")) }));
    };
    const waitForProxy = async (name: string, status: "UP" | "DOWN", timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      let seen = "";
      while (Date.now() < deadline) {
        if (haproxy!.exitCode !== null || haproxy!.signalCode !== null) throw new Error(`haproxy exited:\n${haproxyOutput}`);
        try {
          seen = (await proxyStats()).find((server) => server.name === name)?.status ?? "absent";
          // "UP 1/2" while rising, "DOWN 1/3" while falling: only the settled state counts.
          if (seen === status) return;
        } catch {
          // haproxy not listening yet
        }
        await sleep(100);
      }
      throw new Error(`haproxy never saw ${name} ${status} within ${timeoutMs} ms (last: ${seen || "no answer"}); haproxy said:\n${haproxyOutput}`);
    };

    const cluster: Cluster = {
      url: `http://127.0.0.1:${proxyPort}`,
      pods,
      redis,
      keyPrefix,
      secret,
      token: (user = "alice", tenant = "acme", ttlSeconds = 3600) =>
        new SignJWT({ tenant, scope: USER_SCOPE })
          .setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .setSubject(user)
          .setIssuedAt()
          .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
          .sign(new TextEncoder().encode(secret)),
      pod: (name) => {
        const pod = pods.find((candidate) => candidate.name === name);
        if (!pod) throw new Error(`no pod ${name}; the pods are ${names.join(", ")}`);
        return pod;
      },
      redisClient: () => (client ??= new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 2 })),
      record: async (id) => {
        const hash = await cluster.redisClient().hgetall(`${keyPrefix}session:${id}`);
        return Object.keys(hash).length === 0 ? null : hash;
      },
      records: async () => {
        const found = new Map<string, Record<string, string>>();
        const prefix = `${keyPrefix}session:`;
        for await (const keys of cluster.redisClient().scanStream({ match: `${prefix}*`, count: 500 })) {
          await Promise.all(
            (keys as string[]).map(async (key) => {
              const hash = await cluster.redisClient().hgetall(key);
              if (Object.keys(hash).length > 0) found.set(key.slice(prefix.length), hash);
            }),
          );
        }
        return found;
      },
      owners: async (ids) => {
        const records = await Promise.all(ids.map((id) => cluster.record(id)));
        return new Map(ids.map((id, index) => [id, records[index]?.pod ?? null]));
      },
      proxyStats,
      waitForProxy,
      ensureAllUp: async (timeoutMs = 60_000) => {
        await Promise.all(pods.map((pod) => pod.start()));
        await Promise.all(pods.map((pod) => waitForProxy(pod.name, "UP", timeoutMs)));
      },
      stop,
    };
    await Promise.all(pods.map((pod) => waitForProxy(pod.name, "UP")));
    return cluster;
  }
}

function haproxyConfig(pods: Pod[], proxyPort: number, statsPort: number, checkIntervalMs: number): string {
  return [
    "global",
    "  maxconn 4096",
    "",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 1h",
    "  timeout server 1h",
    // A WebSocket, once upgraded, is a tunnel: it may stay quiet for a long time.
    "  timeout tunnel 1h",
    "  timeout http-request 10s",
    "  timeout client-fin 5s",
    "  timeout server-fin 5s",
    // A pod that refuses connections (killed, not yet seen down) is retried elsewhere, as a load balancer does.
    "  retries 2",
    "  option redispatch",
    "",
    "frontend sessions",
    `  bind 127.0.0.1:${proxyPort}`,
    "  default_backend pods",
    "",
    "backend pods",
    "  balance roundrobin",
    "  option httpchk GET /ready",
    "  http-check expect status 200",
    `  default-server inter ${checkIntervalMs} fastinter ${checkIntervalMs} downinter ${checkIntervalMs} fall 3 rise 1`,
    // Which pod answered: the 101 of an upgrade and every HTTP answer say it.
    "  http-response set-header x-served-by %s",
    ...pods.map((pod) => `  server ${pod.name} ${pod.address} check`),
    // When every pod is not ready (all pools briefly empty under load), rather than answering 503
    // for them, send to any pod: a draining one refuses by itself and the client retries.
    "  option allbackups",
    ...pods.map((pod) => `  server ${pod.name}-fallback ${pod.address} backup`),
    "",
    "listen stats",
    `  bind 127.0.0.1:${statsPort}`,
    "  stats enable",
    "  stats uri /stats",
    "  stats refresh 1s",
    "",
  ].join("\n");
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Sandboxes of a pod killed outright leave when their stdin closes; any still running at the end
 * (named by pid and start time, so a reused pid is never hit) are killed.
 */
class OrphanWatch {
  private readonly known = new Map<number, string>();

  /** Remembers every process below `root` now. */
  async remember(root: number): Promise<void> {
    for (const pid of await descendants(root)) {
      const started = await startTime(pid);
      if (started !== null) this.known.set(pid, started);
    }
  }

  async killSurvivors(): Promise<void> {
    if (this.known.size === 0) return;
    await sleep(300);
    for (const [pid, started] of this.known) {
      if ((await startTime(pid)) !== started) continue;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    this.known.clear();
  }
}

async function startTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

async function descendants(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // ended while we looked
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}
