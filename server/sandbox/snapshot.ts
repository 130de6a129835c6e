// The base memory snapshot every sandbox boots from: built once, cached on disk under a key
// made of the Pyodide version and the code that ran before the snapshot was taken.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GuestProcess } from "./guest-process.ts";
import { launchCommand, type RuntimeFiles } from "./launch.ts";
import type { Logger } from "../log.ts";

export async function baseSnapshotKey(files: RuntimeFiles): Promise<string> {
  const hash = createHash("sha256").update(files.pyodideVersion);
  for (const path of [files.bootstrap, files.worker, files.ipc]) hash.update(await readFile(path));
  return hash.digest("hex").slice(0, 16);
}

const BUILD_JS_HEAP_MB = 512;
const MAX_SNAPSHOT_FRAME_BYTES = 1024 * 1024 * 1024;
const building = new Map<string, Promise<string>>();

/** Path of the base snapshot, building it first when the cache has none for the current key. */
export async function ensureBaseSnapshot(files: RuntimeFiles, cacheDir: string, log: Logger): Promise<string> {
  const key = await baseSnapshotKey(files);
  const path = join(cacheDir, `base-${files.pyodideVersion}-${key}.snapshot`);
  if (await exists(path)) return path;
  let pending = building.get(path);
  if (!pending) {
    pending = buildSnapshot(files, cacheDir, path, log).finally(() => building.delete(path));
    building.set(path, pending);
  }
  return pending;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch {
    return false;
  }
}

async function buildSnapshot(files: RuntimeFiles, cacheDir: string, path: string, log: Logger): Promise<string> {
  const started = performance.now();
  await mkdir(cacheDir, { recursive: true });
  log.info("snapshot_build_started", { path });
  let snapshot: Uint8Array | null = null;
  let failure = "";
  const guest = new GuestProcess(
    launchCommand(files, cacheDir, BUILD_JS_HEAP_MB, {
      mode: "build",
      indexURL: files.pyodideDir,
      snapshotPath: files.bootstrap, // no snapshot to read yet; keeps the read allowlist inside the guest code
      bootstrapPath: files.bootstrap,
      memoryCapBytes: 2 ** 32,
      maxOutputBytes: 0,
    }),
    MAX_SNAPSHOT_FRAME_BYTES,
    ({ message, body }) => {
      if (message.type === "snapshot" && body) snapshot = body;
      if (message.type === "fatal") failure = message.message;
    },
    (error) => (failure = error.message),
  );
  const exit = await guest.exited;
  if (!snapshot) {
    throw new Error(`building the base snapshot failed (exit ${exit.code ?? exit.signal}): ${failure || exit.stderr}`);
  }
  // Written aside, then renamed: a concurrent reader never sees half a snapshot.
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, snapshot);
  await rename(partial, path);
  log.info("snapshot_build_finished", { path, bytes: (snapshot as Uint8Array).byteLength, duration_ms: Math.round(performance.now() - started) });
  return path;
}
