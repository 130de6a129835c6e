// The faults the soak injects, one at a time while the load runs. Each is injected by `inject`,
// which resolves once the fault itself is over (the pod has exited, the stall or the outage has
// ended); the schedule (soak.ts) then starts again any pod that went, as a rolling update or a
// restarted node would, so that the next fault meets a whole cluster.
import { setTimeout as sleep } from "node:timers/promises";
import type { Cluster, Pod } from "../../test/helpers/cluster.ts";
import type { CuttingProxy } from "./proxy.ts";

export const FAULT_NAMES = ["sigterm", "sigkill", "sigstop", "redis-restart", "redis-unreachable", "network"] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/** How long a stalled node, an unreachable Redis and a flaky network last. */
export const OUTAGE_MS = 10_000;
/** The flaky network resets every connection this often while it lasts. */
const CUT_EVERY_MS = 2000;
/** A drain that takes longer than this is hung: the pod is killed (and the report says so). */
const DRAIN_GUARD_MS = 120_000;

export interface FaultContext {
  cluster: Cluster;
  proxy: CuttingProxy;
  /** The pods' POD_HEARTBEAT_TTL: a killed pod's sessions are taken over once it has passed. */
  heartbeatTtlMs: number;
}

export interface Injected {
  /** When the fault itself ended (Date.now()). */
  clearedAt: number;
  /** What happened, for the report. */
  notes: string[];
  /** For a SIGKILL: the sessions the killed pod held with no checkpoint, which it may lose. */
  mayLose?: Set<string>;
}

export interface Fault {
  name: FaultName;
  description: string;
  inject(context: FaultContext): Promise<Injected>;
}

/** The pod holding the most sessions now (by their records): the one whose loss hurts most. */
async function busiestPod(cluster: Cluster): Promise<{ pod: Pod; held: number }> {
  const counts = new Map<string, number>(cluster.pods.map((pod) => [pod.name, 0]));
  for (const record of (await cluster.records()).values()) {
    if (record.pod && counts.has(record.pod) && record.state === "live") counts.set(record.pod, counts.get(record.pod)! + 1);
  }
  const [name, held] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  return { pod: cluster.pod(name), held };
}

const FAULTS: Record<FaultName, Fault> = {
  sigterm: {
    name: "sigterm",
    description: "SIGTERM of the busiest pod (a rolling update): it drains, its sessions move; then it starts again",
    async inject({ cluster }) {
      const { pod, held } = await busiestPod(cluster);
      const exit = await pod.kill("SIGTERM", DRAIN_GUARD_MS);
      const drained = exit.killedAfterTimeout ? `its drain hung: killed after ${DRAIN_GUARD_MS / 1000} s` : `exited ${exit.code} after ${(exit.ms / 1000).toFixed(1)} s`;
      return { clearedAt: Date.now(), notes: [`${pod.name} held ${held} live sessions; ${drained}`] };
    },
  },
  sigkill: {
    name: "sigkill",
    description: "SIGKILL of the busiest pod: its checkpointed sessions come back elsewhere, the rest are lost; a new one starts after the heartbeat TTL",
    async inject({ cluster, heartbeatTtlMs }) {
      const { pod, held } = await busiestPod(cluster);
      const records = await cluster.records();
      const exit = await pod.kill("SIGKILL");
      const killedAt = Date.now() - exit.ms;
      // Read just before the kill: a checkpoint taken in between only saves more.
      const mayLose = new Set([...records].filter(([, record]) => record.pod === pod.name && record.state === "live" && !record.snapshotKey).map(([id]) => id));
      // Other pods take its sessions over once its heartbeat has expired.
      await sleep(Math.max(0, killedAt + heartbeatTtlMs - Date.now()));
      return { clearedAt: killedAt, notes: [`${pod.name} held ${held} live sessions, ${mayLose.size} of them without a checkpoint`], mayLose };
    },
  },
  sigstop: {
    name: "sigstop",
    description: `SIGSTOP of the busiest pod for ${OUTAGE_MS / 1000} s, then SIGCONT (a stalled node)`,
    async inject({ cluster }) {
      const { pod, held } = await busiestPod(cluster);
      pod.signal("SIGSTOP");
      await sleep(OUTAGE_MS);
      pod.signal("SIGCONT");
      return { clearedAt: Date.now(), notes: [`${pod.name} held ${held} live sessions`] };
    },
  },
  "redis-restart": {
    name: "redis-restart",
    description: "Redis restarted empty (no persistence): every record and stored snapshot is gone",
    async inject({ cluster }) {
      const keys = await cluster.redisClient().dbsize();
      const started = Date.now();
      await cluster.redis.stop();
      await cluster.redis.start();
      return { clearedAt: Date.now(), notes: [`Redis held ${keys} keys; down for ${((Date.now() - started) / 1000).toFixed(1)} s`] };
    },
  },
  "redis-unreachable": {
    name: "redis-unreachable",
    description: `Redis unreachable for ${OUTAGE_MS / 1000} s: SIGSTOP of redis-server (connections stay open, nothing answers), then SIGCONT`,
    async inject({ cluster }) {
      cluster.redis.signal("SIGSTOP");
      await sleep(OUTAGE_MS);
      cluster.redis.signal("SIGCONT");
      return { clearedAt: Date.now(), notes: [] };
    },
  },
  network: {
    name: "network",
    description: `a flaky network: the proxy between the clients and haproxy resets every open connection every ${CUT_EVERY_MS / 1000} s for ${OUTAGE_MS / 1000} s`,
    async inject({ proxy }) {
      const before = proxy.cuts;
      for (let elapsed = 0; elapsed < OUTAGE_MS; elapsed += CUT_EVERY_MS) {
        proxy.cut();
        await sleep(CUT_EVERY_MS);
      }
      return { clearedAt: Date.now(), notes: [`${proxy.cuts - before} connections reset`] };
    },
  },
};

export function fault(name: FaultName): Fault {
  return FAULTS[name];
}
