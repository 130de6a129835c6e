// The base memory snapshot every sandbox boots from: built once, cached on disk under a key
// made of the Pyodide version, the guest code that made it and the packages it holds
// (PRELOAD_PACKAGES of the repository's lock file).
//
// It is built in two generations: a fresh interpreter runs the bootstrap and is snapshotted;
// then a sandbox restored from that is snapshotted again. Restoring rewrites thousands of pages
// (about 15 MB); the second generation already holds those writes, so a session's snapshot
// differs from the base only by what the session did: what hibernation stores is small.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RuntimeFiles } from "./launch.ts";
import { NO_PACKAGES, type PackageSettings } from "./package-settings.ts";
import { SandboxProcess, type ProcessEnvironment } from "./sandbox-process.ts";
import { Sandbox } from "./sandbox.ts";
import type { Logger } from "../log.ts";

export async function baseSnapshotKey(files: RuntimeFiles, packages: PackageSettings = NO_PACKAGES): Promise<string> {
  const hash = createHash("sha256").update(files.pyodideVersion);
  const guestDir = join(files.sandboxDir, "guest");
  const guestCode = (await readdir(guestDir)).filter((name) => name !== "bootstrap.py").sort().map((name) => join(guestDir, name));
  for (const path of [files.bootstrap, files.ipc, ...guestCode]) hash.update(await readFile(path));
  // Without preloaded packages the repository leaves the snapshot as it was: no rebuild for a new one.
  if (packages.preload.length > 0) hash.update(JSON.stringify([packages.digest, packages.preload]));
  return hash.digest("hex").slice(0, 16);
}

const BUILD_JS_HEAP_MB = 512;
/** The build's heap cap, and so the largest snapshot frame it may send. */
const BUILD_HEAP_MB = 2048;
const building = new Map<string, Promise<string>>();

/** Path of the base snapshot, building it first when the cache has none for the current key. */
export async function ensureBaseSnapshot(files: RuntimeFiles, packages: PackageSettings, cacheDir: string, log: Logger): Promise<string> {
  const key = await baseSnapshotKey(files, packages);
  const path = join(cacheDir, `base-${files.pyodideVersion}-${key}.snapshot`);
  if (await exists(path)) return path;
  let pending = building.get(path);
  if (!pending) {
    pending = buildSnapshot(files, packages.preload, cacheDir, path, log).finally(() => building.delete(path));
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

async function buildSnapshot(files: RuntimeFiles, preload: string[], cacheDir: string, path: string, log: Logger): Promise<string> {
  const started = performance.now();
  await mkdir(cacheDir, { recursive: true });
  log.info("snapshot_build_started", { path, preload });
  let snapshot: Uint8Array | null = null;
  let failure = "";
  const builder = new SandboxProcess({ ...buildEnvironment(files), mode: "build" });
  builder.start({ memoryCapBytes: 2 ** 32, maxOutputBytes: 0 }, (message, body) => {
    if (message.type === "snapshot" && body) snapshot = body;
    if (message.type === "fatal") failure = message.message;
  });
  const exit = await builder.exited;
  if (!snapshot) {
    throw new Error(`building the base snapshot failed (exit ${exit.code ?? exit.signal}): ${failure || exit.stderr}`);
  }
  const second = await secondGeneration(files, preload, snapshot, log);
  // Written aside, then renamed: a concurrent reader never sees half a snapshot.
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, second);
  await rename(partial, path);
  log.info("snapshot_build_finished", { path, bytes: second.byteLength, duration_ms: Math.round(performance.now() - started) });
  return path;
}

/** A process for the build: no snapshot to read yet (the bootstrap's path keeps the read allowlist inside the guest code). */
function buildEnvironment(files: RuntimeFiles): ProcessEnvironment {
  return { files, snapshotPath: files.bootstrap, limits: { memoryMb: BUILD_HEAP_MB, jsHeapMb: BUILD_JS_HEAP_MB, watchdogHeadroomMb: 1024, maxOutputBytes: 0, maxWheelBytes: 0 } };
}

/** A sandbox restored from the first generation, with the preloaded packages imported, snapshotted again. */
async function secondGeneration(files: RuntimeFiles, preload: string[], first: Uint8Array, log: Logger): Promise<Uint8Array> {
  const environment = buildEnvironment(files);
  const host = new SandboxProcess(environment);
  try {
    const limits = { ...environment.limits, killGraceMs: 1000, bootTimeoutMs: 120_000, callTimeoutMs: 120_000 };
    const sandbox = await Sandbox.start({ limits, log }, host, first);
    if (preload.length > 0) {
      const error = await sandbox.loadPackages(preload);
      if (error) throw new Error(`PRELOAD_PACKAGES could not be loaded into the base snapshot: ${error.type}: ${error.message}`);
    }
    return await sandbox.snapshot();
  } finally {
    await host.close();
  }
}
