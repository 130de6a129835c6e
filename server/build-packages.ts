// `npm run packages -- --out DIR [--release PYODIDE_RELEASE] [--debian python3-a,python3-b] [--check]`:
// builds a package repository for PYODIDE_PACKAGES_DIR (server/packages/build.ts). Repacked Debian
// packages get bytecode compiled by Pyodide's Python (compile.ts); --check imports each in a real
// sandbox and leaves out those that fail (check.ts).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "./config.ts";
import { buildRepository, writeLock, type Repacked } from "./packages/build.ts";
import { checkPackages } from "./packages/check.ts";
import { addBytecode } from "./packages/compile.ts";
import type { LockFile } from "./packages/lock.ts";
import { normalizedName } from "./packages/wheel.ts";

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    release: { type: "string" },
    debian: { type: "string", multiple: true, default: [] },
    check: { type: "boolean", default: false },
  },
});
if (!values.out) {
  process.stderr.write("error: --out DIR is required (the repository's directory, for PYODIDE_PACKAGES_DIR)\n");
  process.exit(2);
}
const out = values.out;
const log = (line: string) => process.stdout.write(`${line}\n`);
const debian = values.debian.flatMap((list) => list.split(",")).map((name) => name.trim()).filter(Boolean);
const { lock, repacked } = buildRepository({ out, release: values.release ?? null, debian, log });
// The sandboxes that compile and check use this machine's cache, and no repository but this one.
const config = loadConfig({ ...process.env, PYODIDE_PACKAGES_DIR: "", PRELOAD_PACKAGES: "" });

if (repacked.length > 0) await addBytecode(out, lock, repacked, config.cacheDir, config.sandbox, log);
if (values.check && repacked.length > 0) await leaveOutFailures(lock, repacked);

async function leaveOutFailures(lock: LockFile, repacked: Repacked[]): Promise<void> {
  const outcomes = await checkPackages(out, repacked.map(({ key }) => key), config.cacheDir, config.sandbox);
  const failed = new Set([...outcomes].filter(([, outcome]) => outcome.error !== null).map(([key]) => key));
  for (const [key, { error, after }] of outcomes) {
    const how = error ? `: ${error.split("\n")[0]}` : after ? ` (once ${after} is imported)` : "";
    log(`${error === null ? "works" : "FAILS"}  ${lock.packages[key]!.name} ${lock.packages[key]!.version}${how}`);
  }
  // A package that depends on one that fails goes too.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (!failed.has(key) && entry.depends.some((name) => failed.has(normalizedName(name)))) grew = Boolean(failed.add(key));
    }
  }
  const kept: LockFile = { info: lock.info, packages: Object.fromEntries(Object.entries(lock.packages).filter(([key]) => !failed.has(key))) };
  for (const key of failed) rmSync(join(out, lock.packages[key]!.file_name), { force: true });
  writeLock(out, kept);
  log(`${Object.keys(kept.packages).length} packages in ${out}${failed.size > 0 ? `; left out: ${[...failed].join(", ")}` : ""}`);
}
