// PRELOAD_PACKAGES: packages imported into the base snapshot, so every session starts with them;
// their files are written back at every boot (a snapshot holds the heap, not the file system).
import assert from "node:assert/strict";
import { test } from "node:test";
import { baseSnapshotKey } from "../../server/sandbox/snapshot.ts";
import { locateRuntimeFiles } from "../../server/sandbox/launch.ts";
import { makeRepository } from "../helpers/repository.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const repository = makeRepository({
  debian: ["python3-tabulate"],
  wheels: [{ name: "warm", files: { "warm/__init__.py": "import time\nLOADED_AT = time.time()\n", "warm/cold.py": "WHERE = 'a submodule no one imported before the snapshot'\n" } }],
});
const runtime = await startTestRuntime({ poolSize: 1, packages: repository.settings(["tabulate", "warm"]) });

test("a session from the base snapshot has the preloaded packages imported, and loads nothing for them", async () => {
  const sandbox = await runtime.pool.take();
  const before = await run(sandbox, "import sys, _wasm_repl_packages as p\n'tabulate' in sys.modules, 'warm' in sys.modules, p.requirements('import tabulate, warm')");
  assert.equal(before.value, "(True, True, '[]')", "imported already: the cell has nothing to load");
  const used = await run(sandbox, "import tabulate, warm, warm.cold\ntabulate.tabulate([['x', 1]]).split(), warm.cold.WHERE");
  assert.equal(used.error, null, used.error?.message);
  assert.equal(used.value, "(['-', '-', 'x', '1', '-', '-'], 'a submodule no one imported before the snapshot')");
  await sandbox.close();
});

test("every session gets the module as the snapshot holds it, not a fresh import", async () => {
  const [first, second] = [await runtime.pool.take(), await runtime.pool.take()];
  const times = await Promise.all([first, second].map(async (sandbox) => (await run(sandbox, "import warm\nwarm.LOADED_AT")).value));
  assert.equal(times[0], times[1], "imported once, at the snapshot's build");
  await Promise.all([first.close(), second.close()]);
});

test("the base snapshot's key includes the preloaded packages and the repository", async () => {
  const files = locateRuntimeFiles(repository.dir);
  const none = await baseSnapshotKey(files);
  const withTabulate = await baseSnapshotKey(files, repository.settings(["tabulate"]));
  assert.notEqual(withTabulate, none);
  assert.notEqual(await baseSnapshotKey(files, repository.settings(["tabulate", "warm"])), withTabulate);
  assert.notEqual(await baseSnapshotKey(files, { ...repository.settings(["tabulate"]), digest: "another lock file" }), withTabulate);
  assert.equal(await baseSnapshotKey(files, repository.settings()), none, "a repository without preloading leaves the snapshot as it was");
});
