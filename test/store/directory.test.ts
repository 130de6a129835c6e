import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { DirectorySnapshotStore } from "../../server/store/directory.ts";
import { snapshotStoreContract } from "./contract.ts";

const root = await mkdtemp(join(tmpdir(), "wasm-repl-snapshots-"));
after(() => rm(root, { recursive: true, force: true }));

describe("DirectorySnapshotStore", () => {
  snapshotStoreContract(async () => ({ snapshots: new DirectorySnapshotStore(join(root, "contract")), close: async () => {} }));
});

test("keys that could leave the directory are refused, and nothing is written", async () => {
  const parent = join(root, "traversal");
  const directory = join(parent, "inner");
  const snapshots = new DirectorySnapshotStore(directory);
  await snapshots.put("kept", new Uint8Array([1]));
  for (const key of ["../escaped", "..", ".", "", "a/b", "/etc/passwd", ".hidden", "..\\escaped", "x".repeat(201), "nul\0byte"]) {
    await assert.rejects(snapshots.put(key, new Uint8Array([1])), RangeError, `put ${JSON.stringify(key)}`);
    await assert.rejects(snapshots.get(key), RangeError, `get ${JSON.stringify(key)}`);
    await assert.rejects(snapshots.delete(key), RangeError, `delete ${JSON.stringify(key)}`);
  }
  assert.deepEqual(await readdir(parent), ["inner"]);
  assert.deepEqual(await readdir(directory), ["kept"], "only the snapshot: no temporary file is left behind");
});
