// Builds a package repository (`npm run packages`): a Pyodide release's packages, and pure-Python
// Debian packages installed on this machine repacked as py3-none-any wheels, under one
// pyodide-lock.json that records each file's sha256, dependencies and import names.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readDebianPackage, type DebianPackage } from "./debian.ts";
import { LOCK_FILE, type LockFile, type LockPackage } from "./lock.ts";
import { copyRelease } from "./release.ts";
import { buildWheel, normalizedName, type WheelSource } from "./wheel.ts";

export interface BuildOptions {
  out: string;
  /** A Pyodide release: its tarball, or the directory it unpacks to. */
  release: string | null;
  /** Installed Debian packages to repack (python3-...). */
  debian: string[];
  log: (line: string) => void;
}

const require = createRequire(import.meta.url);

/** A Debian package repacked into the repository: its lock key and what its wheel holds. */
export interface Repacked {
  key: string;
  source: WheelSource;
}

/** Writes the repository into `options.out`; returns its lock file and the Debian packages it added. */
export function buildRepository(options: BuildOptions): { lock: LockFile; repacked: Repacked[] } {
  const { out, log } = options;
  mkdirSync(out, { recursive: true });
  // Without a release the lock is for the npm package's Pyodide (its ABI and Python), holding none of its packages.
  const npmLock = require("pyodide/pyodide-lock.json") as LockFile;
  const lock: LockFile = options.release ? copyRelease(options.release, out, log) : { info: npmLock.info, packages: {} };
  if (lock.info.abi_version !== npmLock.info.abi_version) {
    throw new Error(`the release is for Pyodide's ABI ${lock.info.abi_version}; the npm package pyodide here has ${npmLock.info.abi_version}: use the release of the same version`);
  }
  const debian = options.debian.map(readDebianPackage);
  const pythonNames = new Map(debian.map((pkg) => [pkg.debian, normalizedName(pkg.name)]));
  const repacked: Repacked[] = [];
  for (const pkg of debian) {
    const key = normalizedName(pkg.name);
    if (lock.packages[key]) {
      log(`${pkg.debian}: the release has ${lock.packages[key]!.name} ${lock.packages[key]!.version}; kept, the Debian build left out`);
      continue;
    }
    const source: WheelSource = { name: pkg.name, version: pkg.version, files: pkg.files, metadata: pkg.metadata, topLevel: pkg.topLevel };
    lock.packages[key] = addWheel(source, out, dependencies(pkg, pythonNames, lock, log));
    repacked.push({ key, source });
    const dropped = pkg.droppedCompiled.length > 0 ? `; compiled files left out: ${pkg.droppedCompiled.join(", ")}` : "";
    log(`${pkg.debian}: ${lock.packages[key]!.file_name} (imports ${pkg.topLevel.join(", ")})${dropped}`);
  }
  const sorted: LockFile = { info: lock.info, packages: Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b))) };
  writeLock(out, sorted);
  return { lock: sorted, repacked };
}

export function writeLock(out: string, lock: LockFile): void {
  writeFileSync(join(out, LOCK_FILE), JSON.stringify(lock, null, 1) + "\n");
}

/** Its Debian dependencies that the repository holds, by the lock file's names; the others are reported and left out. */
function dependencies(pkg: DebianPackage, pythonNames: Map<string, string>, lock: LockFile, log: (line: string) => void): string[] {
  const depends: string[] = [];
  for (const debian of pkg.depends) {
    const name = pythonNames.get(debian) ?? normalizedName(debian.replace(/^python3-/, ""));
    if (pythonNames.has(debian) || lock.packages[name]) depends.push(name);
    else log(`${pkg.debian}: depends on ${debian}, which the repository does not hold: left out`);
  }
  return depends;
}

/** Writes a wheel into the repository; returns its lock entry. */
export function addWheel(source: WheelSource, out: string, depends: string[]): LockPackage {
  const wheel = buildWheel(source);
  writeFileSync(join(out, wheel.fileName), wheel.bytes);
  return {
    name: source.name,
    version: source.version,
    file_name: wheel.fileName,
    install_dir: "site",
    sha256: wheel.sha256,
    package_type: "package",
    imports: source.topLevel ?? [],
    depends,
    unvendored_tests: false,
  };
}
