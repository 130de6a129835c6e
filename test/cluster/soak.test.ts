// The soak benchmark's short version (`npm run soak` is the full one, bench/soak/): a few clients
// using their sessions in every way the soak does, through a proxy in front of haproxy, while
// one pod is drained (SIGTERM) and then another killed (SIGKILL). The report's zero-loss checks
// must hold: every request ended in a result or an error, no cell ran twice, no session was lost
// but those a killed pod held without any snapshot, and every counter read after each fault is
// what its client expects. Its figures (latencies, times to recover) are not asserted: they are
// the benchmark's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startCluster } from "../helpers/cluster.ts";
import { formatReport } from "../../bench/soak/report.ts";
import { runSoak, SOAK_HEARTBEAT_TTL_S, soakPodEnv } from "../../bench/soak/soak.ts";

const CLIENTS = 6;
const HIBERNATE_AFTER_S = 4;
const cluster = await startCluster({ env: soakPodEnv({ maxSessions: 20, hibernateAfterS: HIBERNATE_AFTER_S }) });

test("under a small soak, a drain and a kill lose no request, run no cell twice and lose no session that had to survive", { timeout: 240_000 }, async (t) => {
  const { data, report } = await runSoak(cluster, {
    clients: CLIENTS,
    users: 2,
    faults: ["sigterm", "sigkill"],
    seconds: 40,
    contextBytes: 1024 * 1024,
    hibernateAfterS: HIBERNATE_AFTER_S,
    heartbeatTtlMs: SOAK_HEARTBEAT_TTL_S * 1000,
    sampleEveryMs: 10_000,
    deadlineSlackS: 60,
    setup: `the short soak of npm test: ${CLIENTS} clients, a drain and a kill`,
    progress: (text) => t.diagnostic(text),
  });
  const text = formatReport(data, report);
  for (const line of text.split("\n")) t.diagnostic(line);
  assert.equal(report.faults.length, 2);
  for (const fault of report.faults) {
    const name = fault.window.name;
    assert.deepEqual(fault.unanswered, [], `${name}: every request ended in a result or an error\n${text}`);
    assert.deepEqual(fault.ranTwice, [], `${name}: no cell ran twice\n${text}`);
    assert.deepEqual(fault.counterLost, [], `${name}: no counter went back without the server saying why\n${text}`);
    assert.deepEqual(fault.lost.filter((lost) => !lost.allowed), [], `${name}: only sessions a killed pod held without a snapshot were lost\n${text}`);
    assert.deepEqual(fault.checks, { ok: CLIENTS, wrong: 0, unanswered: 0 }, `${name}: every client's counter is what it expects after the fault\n${text}`);
    assert.deepEqual([...fault.streamMismatches, ...fault.wrongValues], [], `${name}: every answer is the one computed\n${text}`);
  }
  assert.deepEqual(report.totals.unanswered, [], "no request of the whole run went unanswered");
});
