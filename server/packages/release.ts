// A Pyodide release (pyodide-<version>.tar.bz2 from Pyodide's releases, or the directory it
// unpacks to) as the start of a repository: its lock file and every file the lock names.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LockFile } from "./lock.ts";
import { LOCK_FILE } from "./lock.ts";

/** Copies a release's lock file's packages into `out`; returns its lock file. */
export function copyRelease(release: string, out: string, log: (line: string) => void): LockFile {
  const unpacked = statSync(release).isDirectory() ? null : mkdtempSync(join(tmpdir(), "pyodide-release-"));
  try {
    if (unpacked) {
      log(`unpacking ${release}`);
      // GNU tar recognises the compression (bzip2 for a release) by itself.
      execFileSync("tar", ["-xf", release, "-C", unpacked], { stdio: ["ignore", "ignore", "inherit"] });
    }
    const root = findLockDirectory(unpacked ?? release);
    const lock = JSON.parse(readFileSync(join(root, LOCK_FILE), "utf8")) as LockFile;
    let copied = 0;
    for (const entry of Object.values(lock.packages)) {
      const source = join(root, entry.file_name);
      if (!existsSync(source)) throw new Error(`the release's ${LOCK_FILE} names ${entry.file_name}, which it does not hold`);
      copyFileSync(source, join(out, entry.file_name));
      copied++;
    }
    log(`copied ${copied} packages of the release (Python ${lock.info.python}, ABI ${lock.info.abi_version})`);
    return lock;
  } finally {
    if (unpacked) rmSync(unpacked, { recursive: true, force: true });
  }
}

/** The directory holding the lock file: the release itself, or its one top-level folder (pyodide/). */
function findLockDirectory(dir: string): string {
  if (existsSync(join(dir, LOCK_FILE))) return dir;
  const folders = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  if (folders.length === 1 && existsSync(join(dir, folders[0]!.name, LOCK_FILE))) return join(dir, folders[0]!.name);
  throw new Error(`no ${LOCK_FILE} in ${dir}: is it a Pyodide release (pyodide-<version>.tar.bz2)?`);
}
