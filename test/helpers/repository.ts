// Package repositories for tests, built the way `npm run packages` builds one: wheels the test
// makes itself and installed Debian packages, under a lock file, in a temporary directory.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { loadConfig } from "../../server/config.ts";
import { buildRepository, writeLock } from "../../server/packages/build.ts";
import type { LockFile, LockPackage } from "../../server/packages/lock.ts";
import { buildWheel, normalizedName, type Wheel } from "../../server/packages/wheel.ts";
import type { PackageSettings } from "../../server/sandbox/package-settings.ts";

export interface TestWheel {
  name: string;
  version?: string;
  /** Files by path inside the wheel (relative to site-packages): Python source. */
  files: Record<string, string>;
  depends?: string[];
}

/** A pure-Python wheel from sources. */
export function makeWheel({ name, version = "1.0", files }: TestWheel): Wheel {
  const entries = Object.entries(files).map(([path, text]) => ({ path, data: Buffer.from(text, "utf8") }));
  return buildWheel({ name, version, files: entries, topLevel: topLevelOf(files) });
}

function topLevelOf(files: Record<string, string>): string[] {
  return [...new Set(Object.keys(files).map((path) => path.split("/")[0]!.replace(/\.py$/, "")))];
}

export interface TestRepository {
  dir: string;
  lock: LockFile;
  /** The settings a runtime takes, with `preload` (lock keys) in the base snapshot. */
  settings(preload?: string[]): PackageSettings;
}

/**
 * A repository of Debian packages (repacked) and the test's own wheels; `edit` may change the
 * lock and the files before it is written (a broken wheel). Removed when the test file ends.
 */
export function makeRepository(options: { debian?: string[]; wheels?: TestWheel[]; edit?: (lock: LockFile, dir: string) => void; release?: string }): TestRepository {
  const dir = mkdtempSync(join(tmpdir(), "wasm-repl-packages-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const { lock } = buildRepository({ out: dir, release: options.release ?? null, debian: options.debian ?? [], log: () => {} });
  for (const source of options.wheels ?? []) {
    const wheel = makeWheel(source);
    writeFileSync(join(dir, wheel.fileName), wheel.bytes);
    lock.packages[normalizedName(source.name)] = lockEntry(source, wheel);
  }
  options.edit?.(lock, dir);
  writeLock(dir, lock);
  return { dir, lock, settings: (preload = []) => settingsOf(dir, preload) };
}

export function lockEntry(source: TestWheel, wheel: Wheel): LockPackage {
  return {
    name: source.name,
    version: source.version ?? "1.0",
    file_name: wheel.fileName,
    install_dir: "site",
    sha256: wheel.sha256,
    package_type: "package",
    imports: topLevelOf(source.files),
    depends: source.depends ?? [],
  };
}

/** The settings config.ts reads for a repository: the same checks, the same digest. */
export function settingsOf(dir: string, preload: string[] = []): PackageSettings {
  return loadConfig({ PYODIDE_PACKAGES_DIR: dir, PRELOAD_PACKAGES: preload.join(",") }).packages;
}
