// The host protocol: frames on the sandbox process's stdin/stdout. The interpreter's worker has
// no route to that pipe (no Deno, process, console or Node file system: see guest/harden.ts),
// yet Python can rewrite what the guest's own code reports (it shares json with the bootstrap),
// and a route to the pipe may be found one day; so the host treats every frame as hostile:
// nothing a cell sends may crash the host, make it buffer without bound, spoof a result, or
// leave an interpreter running that the host has given up on.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import type { CellResult, Sandbox, SandboxExit } from "../../server/sandbox/sandbox.ts";
import { assertAnswers, assertRefused, attack, pipeWriter, type PipeRoute } from "./attack.ts";

const KILL_GRACE_MS = 300;
/** Time a cell that answers its interrupt with a forged result has to answer: only a hang reaches it. */
const FORGING_KILL_GRACE_MS = 10_000;
const MiB = 2 ** 20;
const runtime = await startTestRuntime({ poolSize: 2, limits: { killGraceMs: KILL_GRACE_MS } });

/** Each test attacks a sandbox of its own: most of these attacks end it. */
const fresh = (): Promise<Sandbox> => runtime.pool.take();
/** A sandbox no test attacks: it must keep answering whatever the others did. */
const bystander = await fresh();

/**
 * Asserts that the host ended the attacked sandbox for a protocol violation (and nothing else:
 * not a cause the forged frame named), its interpreter is gone (its process too, unless other
 * interpreters of its identity still run there), and the bystander still answers.
 */
async function assertEndedForViolation(sandbox: Sandbox, result: CellResult): Promise<void> {
  assert.equal(result.success, false);
  assert.equal(result.state_preserved, false, `the sandbox was not ended: ${JSON.stringify(result)}`);
  assert.match(`${result.error?.type}: ${result.error?.message}`, /^SandboxError: the sandbox ended \(protocol_violation\)/);
  assert.equal(sandbox.alive, false);
  assert.equal((await sandbox.exited).cause, "protocol_violation");
  if (!sandbox.host.alive) assert.equal(processExists(sandbox.pid!), false, `sandbox process ${sandbox.pid} still runs`);
  await assertAnswers(bystander);
}

/**
 * Asserts that bytes a cell tried to put on the pipe never became a frame the host acted on:
 * either they never reached it (the write raised or went nowhere, and the sandbox answers on
 * with its state) or the host ended the sandbox for the violation. Nothing forged is the result.
 */
async function assertPipeHeld(sandbox: Sandbox, result: CellResult, forged?: string): Promise<void> {
  if (forged !== undefined) assert.notEqual(result.value, forged, `the host took the forged frame for the result: ${JSON.stringify(result)}`);
  if (!sandbox.alive) return assertEndedForViolation(sandbox, result);
  assert.equal(result.state_preserved, true);
  await assertAnswers(sandbox);
  await assertAnswers(bystander);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Samples the host's resident memory until stopped; returns how far it rose above the start. */
function watchRss(): { stop(): number } {
  const start = process.memoryUsage.rss();
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  return {
    stop() {
      clearInterval(sampler);
      return Math.max(peak, process.memoryUsage.rss()) - start;
    },
  };
}

const HOST_UNDER_ATTACK = fileURLToPath(new URL("./host-under-attack.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface HostReport {
  code: number | null;
  stderr: string;
  report: { survived?: boolean; hung?: boolean; result?: CellResult; exit?: SandboxExit | null; bystander?: string | null } | null;
}

/** Runs one cell in a sandbox of a separate host process, to see whether the host survives it. */
function runInSeparateHost(code: string, timeoutMs: number, killGraceMs = KILL_GRACE_MS): Promise<HostReport> {
  return new Promise((resolve) => {
    const args = ["--import", "tsx", HOST_UNDER_ATTACK, JSON.stringify({ code, timeoutMs, killGraceMs })];
    // The host reports a hang itself, well before this.
    execFile(process.execPath, args, { cwd: REPO_ROOT, timeout: 60_000 + timeoutMs + killGraceMs }, (error, stdout, stderr) => {
      const line = stdout.trim().split("\n").at(-1);
      let report: HostReport["report"] = null;
      try {
        report = line ? JSON.parse(line) : null;
      } catch {
        report = null;
      }
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr, report });
    });
  });
}

/**
 * Asserts that the separate host survived, ended only the attacked sandbox, for a protocol
 * violation, and that its other sandbox still answered.
 */
function assertHostEndedOnlyTheAttacker({ code, stderr, report }: HostReport): void {
  const crash = stderr.split("\n").find((text) => /^[A-Za-z]*Error\b/.test(text)) ?? stderr.slice(-500);
  assert.ok(!report?.hung, "the cell never settled in the host under attack");
  assert.ok(report?.survived && code === 0, `the host process died (exit ${code}): ${crash}`);
  assert.equal(report.exit?.cause, "protocol_violation", `the attacked sandbox: ${JSON.stringify(report.exit)}`);
  assert.equal(report.result?.state_preserved, false);
  assert.match(`${report.result?.error?.type}: ${report.result?.error?.message}`, /^SandboxError: the sandbox ended \(protocol_violation\)/);
  assert.equal(report.bystander, "2", "the host's other sandbox stopped answering");
}

// Attacks that may crash a host run in host processes of their own, started now so that they
// boot while the tests below run.
const separateHosts = {
  // The bootstrap serialises results with the session's own json module, and the worker spreads
  // the parsed result over its message: the cell chooses every field but the type and cell id.
  fatalWithNumberMessage: runInSeparateHost(
    `import json
json.dumps = lambda *args, **kwargs: '{"type": "fatal", "cause": "memory_limit", "message": 5}'`,
    2000,
  ),
  // The forged answer must come before the kill grace ends, however loaded the machine: the grace
  // is long, and the host's repeated interrupts cannot stop the forging (it is idempotent, and
  // tried again until it has run to its end).
  timeoutWithNumberTraceback: runInSeparateHost(
    `import json, time
def forge():
    forged = json.dumps({"success": False, "value": None, "locals": None, "execution_count": 1, "execution_time": 0,
                         "error": {"type": "KeyboardInterrupt", "message": "", "traceback": 0}})
    json.dumps = lambda *args, **kwargs: forged
try:
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    while True:
        try:
            forge()
            break
        except KeyboardInterrupt:
            pass`,
    500,
    FORGING_KILL_GRACE_MS,
  ),
};

describe("Python cannot subvert the host protocol", () => {
  test("bytes that are not a frame never reach the host as one: they go nowhere, or end only the sandbox that wrote them", async () => {
    const sandbox = await fresh();
    const { result } = await attack(sandbox, `${pipeWriter()}\ndef attack():\n    send_raw(b"\\xff" * 16)`);
    await assertPipeHeld(sandbox, result);
  });

  for (const route of ["setStdout", "nodefs"] as const satisfies PipeRoute[]) {
    test(`a result frame forged on the pipe (via ${route}) is never taken for the cell's result`, async () => {
      const sandbox = await fresh();
      const result = await run(
        sandbox,
        `${pipeWriter(route)}\nsend(forged_result(value="'FORGED'"))\nimport time\ntime.sleep(0.2)\n"genuine"`,
      );
      await assertPipeHeld(sandbox, result, "'FORGED'");
    });
  }

  test("a fatal frame forged on the pipe ends the sandbox for the forgery, not for the cause it names, and leaves no process", async () => {
    const sandbox = await fresh();
    const code = `${pipeWriter()}
send({"type": "fatal", "cause": "memory_limit", "message": "forged"})
send(forged_result(value="'forged'"))
import time
deadline = time.time() + 2
while time.time() < deadline:
    pass`;
    const result = await run(sandbox, code);
    assert.notEqual(result.error?.type, "MemoryError", "the host believed the forged fatal frame");
    await assertPipeHeld(sandbox, result, "'forged'");
  });

  test("a result the cell makes the guest report in the wrong shape (a value that is not a string) ends the sandbox, never reaching the caller", async () => {
    const sandbox = await fresh();
    const report = `{"success": true, "value": {"forged": 1}, "locals": null, "execution_count": 1, "execution_time": 0, "error": null}`;
    const result = await run(sandbox, `import json\njson.dumps = lambda *args, **kwargs: '${report}'`);
    assert.equal(result.value, null, `the host handed on the value ${JSON.stringify(result.value)}`);
    await assertEndedForViolation(sandbox, result);
  });

  test("no route Python knows reaches the sandbox process's stdout: each write raises or goes nowhere", async () => {
    const sandbox = await fresh();
    for (const route of ["setStdout", "nodefs"] as const satisfies PipeRoute[]) {
      await attack(sandbox, `${pipeWriter(route)}\ndef attack():\n    send_raw(b"\\xff" * 16)`);
      // Bytes that reached the pipe would have ended the process for a protocol violation.
      assert.equal(sandbox.alive, true, `the bytes written via ${route} reached the pipe`);
    }
    await assertAnswers(sandbox);
  });

  test("a frame header announcing 1 GiB never makes the host buffer it", async (t) => {
    const sandbox = await fresh();
    const code = `${pipeWriter()}
send_raw(struct.pack("<II", 2**30 - 64, 0))
chunk = b"x" * 2**20
for _ in range(64):
    send_raw(chunk)
"written"`;
    const rss = watchRss();
    const result = await run(sandbox, code);
    const grown = rss.stop();
    t.diagnostic(`host RSS grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.ok(grown < 32 * MiB, `the host's memory grew by ${Math.round(grown / MiB)} MiB while the sandbox wrote a frame it can only reject`);
    await assertPipeHeld(sandbox, result);
  });

  test("Python reads none of the host's frames from stdin", async () => {
    const sandbox = await fresh();
    const attempt = await attack(
      sandbox,
      `import pyodide_js, sys\ndef attack():\n    pyodide_js.setStdin()\n    return sys.stdin.buffer.raw.read(64)`,
      { timeoutMs: 600 },
    );
    // A refusal, or a read that blocks until the deadline ends the sandbox.
    await assertRefused(attempt, '"type"');
  });

  test("a cell that rewrites the guest's report into a fatal with a non-string message ends only its sandbox (protocol_violation)", async () => {
    assertHostEndedOnlyTheAttacker(await separateHosts.fatalWithNumberMessage);
  });

  test("a cell that answers its timeout with a result whose traceback is not a string ends only its sandbox (protocol_violation)", async () => {
    assertHostEndedOnlyTheAttacker(await separateHosts.timeoutWithNumberTraceback);
  });
});
