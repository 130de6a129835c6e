// `npm run soak`: what the session server survives under load. Starts Redis, three servers and
// haproxy as test/cluster/ does (test/helpers/cluster.ts), drives them from a separate process
// through a proxy that can cut connections, injects each fault in a window of its own and prints
// the report (bench/soak/report.ts); exits 1 when a check failed.
//
//   npm run soak                                   # 200 clients, 60 s around each of the six faults
//   npm run soak -- --clients 40 --seconds 60 --faults sigterm,sigkill
//   npm run soak -- --hours 1 --clients 20         # no faults: the servers sampled every minute
//
// --clients N, --seconds S (of load around each fault), --faults all|none|a,b (sigterm, sigkill,
// sigstop, redis-restart, redis-unreachable, network), --hours H (the soak: the load runs H hours,
// without faults unless --faults names some), --users N (the clients' users; default one per
// eight clients), --max-sessions N (each server's MAX_SESSIONS; default enough for two servers
// to hold every session), --context-mib M (add_context's payload), --sample-seconds S (default 60),
// --save FILE (every request, finding, check and sample of the run, as JSON, to look into),
// --snapshots redis|directory (where hibernated sessions' snapshots go: Redis, as deployed, or a
// SNAPSHOT_DIR the three servers share, as a shared volume would be; with Redis, a Redis
// restarted empty takes every hibernated session with it).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CLUSTER_POD_ENV, launchCluster } from "../../test/helpers/cluster.ts";
import { runBench, stopOnTheWayOut } from "../processes.ts";
import { FAULT_NAMES, type FaultName } from "./faults.ts";
import { formatReport, reportJson } from "./report.ts";
import { runSoak, SOAK_HEARTBEAT_TTL_S, soakPodEnv } from "./soak.ts";

const HIBERNATE_AFTER_S = 4;

function progress(text: string): void {
  process.stderr.write(`soak: ${text}\n`);
}

function positive(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`--${name} takes a positive number, not ${JSON.stringify(value)}`);
  return number;
}

function faultList(value: string | undefined, soaking: boolean): FaultName[] {
  if (value === undefined) return soaking ? [] : [...FAULT_NAMES];
  if (value === "all") return [...FAULT_NAMES];
  if (value === "none") return [];
  const names = value.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !(FAULT_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown fault(s) ${unknown.join(", ")}; the faults are ${FAULT_NAMES.join(", ")}`);
  return names as FaultName[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: "string" },
      seconds: { type: "string" },
      faults: { type: "string" },
      hours: { type: "string" },
      users: { type: "string" },
      "max-sessions": { type: "string" },
      "context-mib": { type: "string" },
      "sample-seconds": { type: "string" },
      save: { type: "string" },
      snapshots: { type: "string" },
    },
  });
  const hours = values.hours === undefined ? null : positive(values.hours, 1, "hours");
  const clients = Math.round(positive(values.clients, 200, "clients"));
  const faults = faultList(values.faults, hours !== null);
  const perFault = positive(values.seconds, 60, "seconds");
  const seconds = hours !== null ? hours * 3600 : perFault * Math.max(1, faults.length);
  const users = Math.round(positive(values.users, Math.ceil(clients / 8), "users"));
  const maxSessions = Math.round(positive(values["max-sessions"], Math.ceil(clients / 2) + 10, "max-sessions"));
  const contextBytes = Math.round(positive(values["context-mib"], 2, "context-mib") * 2 ** 20);
  const sampleEveryMs = positive(values["sample-seconds"], 60, "sample-seconds") * 1000;
  const heartbeatTtlMs = SOAK_HEARTBEAT_TTL_S * 1000;
  const snapshots = values.snapshots ?? "redis";
  if (snapshots !== "redis" && snapshots !== "directory") throw new Error(`--snapshots takes redis or directory, not ${JSON.stringify(snapshots)}`);
  const snapshotDir = snapshots === "directory" ? await mkdtemp(join(tmpdir(), "wasm-repl-soak-snapshots-")) : null;

  progress("starting Redis, three servers and haproxy");
  const env = { ...soakPodEnv({ maxSessions, hibernateAfterS: HIBERNATE_AFTER_S }), ...(snapshotDir && { SNAPSHOT_DIR: snapshotDir }) };
  const cluster = await launchCluster({ env });
  const forget = stopOnTheWayOut(cluster);
  try {
    const lengths = hours !== null ? `${hours} h of load` : `${perFault} s of load around each fault`;
    const setup = `3 servers (MAX_SESSIONS ${maxSessions}, HIBERNATE_AFTER ${HIBERNATE_AFTER_S}, CHECKPOINT_AFTER ${CLUSTER_POD_ENV.CHECKPOINT_AFTER}, POD_HEARTBEAT_TTL ${SOAK_HEARTBEAT_TTL_S}, snapshots in ${snapshotDir ? "a shared SNAPSHOT_DIR" : "Redis"}) behind haproxy, one Redis; ${clients} clients of ${users} users in a driver process, through a cutting proxy; ${lengths}; faults: ${faults.join(", ") || "none"}`;
    const { data, report } = await runSoak(cluster, { clients, users, faults, seconds, contextBytes, hibernateAfterS: HIBERNATE_AFTER_S, heartbeatTtlMs, sampleEveryMs, deadlineSlackS: 60, setup, progress });
    if (values.save) await writeFile(values.save, JSON.stringify(data));
    console.log(formatReport(data, report));
    console.log("");
    console.log(reportJson(report));
    if (report.failures.length > 0) process.exitCode = 1;
  } finally {
    progress("stopping the cluster");
    await cluster.stop();
    forget();
    if (snapshotDir) await rm(snapshotDir, { recursive: true, force: true });
  }
}

runBench(main, 6 * 3600_000, progress);
