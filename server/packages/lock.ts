// A package repository in the layout of a Pyodide release: `pyodide-lock.json` and, beside it,
// the files it names. The server reads it at start-up (config.ts) and hands its files to the
// sandboxes; `npm run packages` writes one (build.ts).
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { LockFile, LockPackage } from "../sandbox/guest/lock.ts";
import { normalizedName } from "./wheel.ts";

export { isCompiled, type LockFile, type LockPackage } from "../sandbox/guest/lock.ts";

export const LOCK_FILE = "pyodide-lock.json";

export interface Repository {
  /** Absolute, with a trailing slash. */
  dir: string;
  lock: LockFile;
  /** A digest of the lock file: a different repository makes a different base snapshot. */
  digest: string;
}

/** A file name the lock may give: a plain name beside it (no directory, no URL). */
const PLAIN_FILE = /^[\w.+-]+$/;

/** Reads and checks a repository; throws with what is wrong. */
export function openRepository(dir: string): Repository {
  const root = dir.endsWith("/") ? dir : `${dir}/`;
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${dir} is not a directory`);
  let text: string;
  try {
    text = readFileSync(join(root, LOCK_FILE), "utf8");
  } catch {
    throw new Error(`${dir} has no ${LOCK_FILE} (a package repository is laid out as a Pyodide release: the lock file and the wheels it names)`);
  }
  const lock = JSON.parse(text) as LockFile;
  if (typeof lock?.info?.abi_version !== "string" || typeof lock.packages !== "object" || lock.packages === null) {
    throw new Error(`${join(root, LOCK_FILE)} is not a Pyodide lock file (it needs "info" and "packages")`);
  }
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!PLAIN_FILE.test(entry.file_name ?? "")) throw new Error(`${LOCK_FILE}: package ${key} names the file ${JSON.stringify(entry.file_name)}; only files beside the lock file are served`);
  }
  return { dir: root, lock, digest: createHash("sha256").update(text).digest("hex") };
}

/** The lock's entry for a name as a user writes it (any case, - _ or .), if any. */
export function findPackage(lock: LockFile, name: string): LockPackage | undefined {
  return lock.packages[normalizedName(name)];
}

/** The package and every package it depends on, dependencies first. */
export function withDependencies(lock: LockFile, names: readonly string[]): LockPackage[] {
  const ordered: LockPackage[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const key = normalizedName(name);
    if (seen.has(key)) return;
    seen.add(key);
    const entry = lock.packages[key];
    if (!entry) throw new Error(`the repository has no package ${JSON.stringify(name)}`);
    for (const dependency of entry.depends) visit(dependency);
    ordered.push(entry);
  };
  for (const name of names) visit(name);
  return ordered;
}
