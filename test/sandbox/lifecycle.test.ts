// Snapshot caching and process lifetime.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { test } from "node:test";
import { locateRuntimeFiles } from "../../server/sandbox/launch.ts";
import { baseSnapshotKey } from "../../server/sandbox/snapshot.ts";

test("the snapshot key changes with the Pyodide version and with the bootstrap code", async () => {
  const files = locateRuntimeFiles();
  const dir = await mkdtemp(join(tmpdir(), "wasm-repl-key-"));
  try {
    const bootstrap = join(dir, "bootstrap.py");
    await cp(files.bootstrap, bootstrap);
    const copy = { ...files, bootstrap };
    const key = await baseSnapshotKey(copy);
    assert.equal(await baseSnapshotKey(copy), key, "stable for the same inputs");
    assert.notEqual(await baseSnapshotKey({ ...copy, pyodideVersion: "0.0.1" }), key);
    await writeFile(bootstrap, "# changed\n", { flag: "a" });
    assert.notEqual(await baseSnapshotKey(copy), key);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("a sandbox exits by itself when its server is killed with SIGKILL", async () => {
  const server = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "../fixtures/hold-sandbox.ts")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(server.stdout!, "data")) as [Buffer];
  const pid = Number(line.toString().trim());
  assert.ok(pid > 0 && existsSync(`/proc/${pid}`), "the sandbox runs");
  server.kill("SIGKILL");
  const deadline = Date.now() + 5000;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(existsSync(`/proc/${pid}`), false, "the orphaned sandbox should have exited");
});
