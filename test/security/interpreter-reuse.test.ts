// Interpreters share processes, never state: one identity's interpreters may share a sandbox
// process (one worker each), different identities' never do, and no interpreter serves two
// sessions or two stateless requests, whatever the first one tried to leave behind.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import { startTestServer } from "../helpers/server.ts";
import type { Sandbox } from "../../server/sandbox/sandbox.ts";

const server = await startTestServer({ POOL_SIZE: "1" });
const token = await server.token();

async function execute(code: string): Promise<{ success: boolean; value: string | null; error: string | null }> {
  const response = await fetch(`${server.url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ code }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as { success: boolean; value: string | null; error: string | null };
}

// Everything a request could change that outlives a cell inside one interpreter.
const LEAVE_BEHIND = `
import builtins, os, random, sys, types
leaked = "global"
builtins.leaked_builtin = 1
sys.modules["leaked_module"] = types.ModuleType("leaked_module")
os.environ["LEAKED"] = "1"
open("/tmp/leaked.txt", "w").write("left behind")
open("leaked_cwd.txt", "w").write("left behind")
random.random = lambda: 0.5
import pyodide_js
pyodide_js._api.leaked = 1
draw = random.getstate()[1][:4]
str(draw)
`;

const LOOK_FOR_IT = `
import builtins, os, random, sys
import pyodide_js
found = [name for name, present in [
  ("global", "leaked" in globals()),
  ("builtin", hasattr(builtins, "leaked_builtin")),
  ("module", "leaked_module" in sys.modules),
  ("environ", "LEAKED" in os.environ),
  ("tmp file", os.path.exists("/tmp/leaked.txt")),
  ("cwd file", os.path.exists("leaked_cwd.txt")),
  ("patched random", random.random() == 0.5 and random.random() == 0.5),
  ("js", hasattr(pyodide_js._api, "leaked")),
] if present]
(found, str(random.getstate()[1][:4]))
`;

test("a stateless request never sees anything an earlier one left behind, nor its random state", async () => {
  const first = await execute(LEAVE_BEHIND);
  assert.equal(first.success, true, first.error ?? "");
  for (let attempt = 0; attempt < 3; attempt++) {
    const next = await execute(LOOK_FOR_IT);
    assert.equal(next.success, true, next.error ?? "");
    const [found, state] = next.value!.match(/^\((\[.*\]), '(.*)'\)$/)!.slice(1);
    assert.equal(found, "[]", `request ${attempt + 2} found what the first left behind`);
    assert.notEqual(state, first.value!.replace(/^'|'$/g, ""), "every request draws its own random numbers");
  }
});

const runtime = await startTestRuntime({ poolSize: 0, pool: { interpretersPerProcess: 2 } });
const taken: Sandbox[] = [];
after(() => Promise.all(taken.map((sandbox) => sandbox.close())));

async function take(tenant: string, user: string): Promise<Sandbox> {
  const sandbox = await runtime.sourceFor({ tenant, user }).take();
  taken.push(sandbox);
  return sandbox;
}

test("interpreters of different tenants or users never share a process; one identity's do, up to INTERPRETERS_PER_PROCESS", async () => {
  const [first, second, third] = [await take("acme", "alice"), await take("acme", "alice"), await take("acme", "alice")];
  const [otherUser, otherTenant] = [await take("acme", "bob"), await take("globex", "alice")];
  assert.equal(first.pid, second.pid, "one identity's interpreters share its process");
  assert.notEqual(third.pid, first.pid, "a third does not fit a process of two");
  const alices = new Set([first.pid, third.pid]);
  assert.ok(!alices.has(otherUser.pid), "another user of the tenant has a process of its own");
  assert.ok(!alices.has(otherTenant.pid) && otherTenant.pid !== otherUser.pid, "another tenant has a process of its own");
  await run(first, "x = 'first'");
  const seen = await run(second, "'x' in globals()");
  assert.equal(seen.value, "False", "interpreters in one process share no variables");
});

test("an interpreter killed at its deadline takes nothing else of its process with it", async () => {
  const doomed = await take("initech", "peter");
  const neighbour = await take("initech", "peter");
  assert.equal(doomed.pid, neighbour.pid);
  await run(neighbour, "kept = 42");
  const killed = await run(doomed, "while True:\n    try:\n        while True: pass\n    except KeyboardInterrupt:\n        pass", { timeoutMs: 300 });
  assert.equal(killed.state_preserved, false, "the cell ignored its interrupt, so its interpreter was killed");
  assert.equal((await doomed.exited).cause, "timeout");
  const after = await run(neighbour, "kept");
  assert.equal(after.value, "42", "its neighbour keeps running with its variables");
  assert.equal(after.state_preserved, true);
});
