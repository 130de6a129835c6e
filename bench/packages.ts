// The packages benchmark, for one real package set (Debian's tabulate, Jinja2 + MarkupSafe,
// PyYAML and networkx, repacked and compiled as npm run packages does, into a repository of this
// run's own): what
// PRELOAD_PACKAGES costs an interpreter's boot and memory and what it saves, how large a
// hibernated session that holds them is, and how long the first `import` of a package loaded on
// demand takes. Each part on real sandboxes, beside the same without preloading.
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfig } from "../server/config.ts";
import { encodeSnapshot } from "../server/hibernation/snapshot-codec.ts";
import { silentLogger } from "../server/log.ts";
import { buildRepository } from "../server/packages/build.ts";
import { addBytecode } from "../server/packages/compile.ts";
import { startSandboxRuntime, type SandboxRuntime } from "../server/sandbox/runtime.ts";
import { Sandbox } from "../server/sandbox/sandbox.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, roundSummary, summarize, type Summary } from "./stats.ts";

const DEBIAN = ["python3-tabulate", "python3-jinja2", "python3-markupsafe", "python3-yaml", "python3-networkx"];
/** The lock keys, and the cell that uses every one of them. */
const PACKAGES = ["tabulate", "jinja2", "markupsafe", "pyyaml", "networkx"];
const IMPORT_ALL = "import tabulate, jinja2, markupsafe, yaml, networkx";
const BOOTS = 10;
const PSS_SAMPLES = 4;
const IMPORTS = 5;
const MIB = 1024 * 1024;

function progress(text: string): void {
  process.stderr.write(`bench packages: ${text}\n`);
}

interface Variant {
  name: string;
  runtime: SandboxRuntime;
  base: Uint8Array;
  buildMs: number;
}

/** `cacheDir`: where the base snapshot is built (or found). */
async function startVariant(name: string, dir: string, preload: string[], cacheDir: string | undefined): Promise<Variant> {
  const config = loadConfig({ CACHE_DIR: cacheDir, PYODIDE_PACKAGES_DIR: dir, PRELOAD_PACKAGES: preload.join(",") });
  const started = performance.now();
  const runtime = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: 0, limits: config.sandbox, log: silentLogger, packages: config.packages });
  const buildMs = performance.now() - started;
  return { name, runtime, base: await readFile(runtime.environment.snapshotPath), buildMs };
}

/**
 * The guest's boot time of interpreters booted one after another in one process (as an
 * identity's sessions are), and the PSS of a process of its own holding one idle interpreter.
 */
async function boots(variant: Variant): Promise<{ bootMs: number[]; pssMib: number[] }> {
  const bootMs: number[] = [];
  const { environment, hosts } = variant.runtime;
  for (let index = 0; index < BOOTS; index++) {
    const sandbox = await Sandbox.start(environment, hosts.hostFor(variant.name));
    bootMs.push(sandbox.bootMs);
    await sandbox.close();
  }
  const pssMib: number[] = [];
  for (let index = 0; index < PSS_SAMPLES; index++) {
    const sandbox = await variant.runtime.start();
    await new Promise((resolve) => setTimeout(resolve, 500)); // the boot's garbage returned
    const memory = await sandbox.host.memory();
    if (memory) pssMib.push(memory.pssBytes / MIB);
    await sandbox.close();
  }
  return { bootMs, pssMib };
}

async function cellMs(sandbox: Sandbox, code: string): Promise<number> {
  const result = await sandbox.execute({ code, timeoutMs: 120_000, locals: "none" });
  if (result.error) throw new Error(`${code}: ${result.error.type}: ${result.error.message}`);
  return result.execution_time * 1000;
}

/** The first import of the set in a fresh session (its loading counted: the cell's round trip), and the stored bytes of that session hibernated. */
async function firstImports(variant: Variant): Promise<{ importMs: number[]; storedKib: number[]; snapshotMib: number[] }> {
  const importMs: number[] = [];
  const storedKib: number[] = [];
  const snapshotMib: number[] = [];
  for (let index = 0; index < IMPORTS; index++) {
    const sandbox = await variant.runtime.start();
    const started = performance.now();
    await cellMs(sandbox, `${IMPORT_ALL}\ntabulate.tabulate([[1]])`);
    importMs.push(performance.now() - started);
    const snapshot = await sandbox.snapshot();
    snapshotMib.push(snapshot.byteLength / MIB);
    storedKib.push((await encodeSnapshot(snapshot, variant.base)).byteLength / 1024);
    await sandbox.close();
  }
  return { importMs, storedKib, snapshotMib };
}

interface Row {
  label: string;
  unit: string;
  summary: Summary;
  decimals: number;
}

export async function runPackagesBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "wasm-repl-bench-packages-"));
  const variants: Variant[] = [];
  try {
    progress(`building a repository of ${DEBIAN.join(", ")}`);
    const { lock, repacked } = buildRepository({ out: dir, release: null, debian: DEBIAN, log: () => {} });
    const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
    await addBytecode(dir, lock, repacked, config.cacheDir, config.sandbox, () => {});
    progress("the base snapshot without preloading");
    variants.push(await startVariant("on demand", dir, [], process.env.CACHE_DIR));
    progress(`the base snapshot with PRELOAD_PACKAGES=${PACKAGES.join(",")}`);
    // In a cache of its own: its build is measured in every run (the repository is built the same each time).
    variants.push(await startVariant("preloaded", dir, PACKAGES, join(dir, ".cache")));
    const rows: Row[] = [];
    const json: Record<string, unknown> = { bench: "packages", packages: PACKAGES };
    for (const variant of variants) {
      progress(`${variant.name}: ${BOOTS} boots, ${IMPORTS} first imports and hibernations`);
      const { bootMs, pssMib } = await boots(variant);
      const { importMs, storedKib, snapshotMib } = await firstImports(variant);
      const key = variant.name.replace(/\s+/g, "_");
      const add = (label: string, unit: string, values: number[], decimals: number, name: string) => {
        const summary = summarize(values);
        rows.push({ label: `${variant.name}: ${label}`, unit, summary, decimals });
        json[`${key}_${name}`] = roundSummary(summary, decimals);
      };
      add("interpreter boot from the base snapshot (guest, in a process already up)", "ms", bootMs, 0, "boot_ms");
      add("idle interpreter's process, PSS", "MiB", pssMib, 1, "pss_mib");
      add(`first \`${IMPORT_ALL}\` in a fresh session`, "ms", importMs, 0, "first_import_ms");
      add("that session hibernated: stored (delta + gzip)", "KiB", storedKib, 0, "stored_kib");
      add("  its raw snapshot", "MiB", snapshotMib, 1, "snapshot_mib");
      json[`${key}_base_mib`] = Number((variant.base.byteLength / MIB).toFixed(1));
    }
    const preloaded = variants[1]!;
    console.log(`\nwasm-repl packages benchmark: ${PACKAGES.join(", ")} (Debian, repacked); sandboxes each in a process of their own`);
    console.log(`building the preloaded base snapshot took ${formatNumber(preloaded.buildMs / 1000, 1)} s (${formatNumber(preloaded.base.byteLength / MIB, 1)} MiB, against ${formatNumber(variants[0]!.base.byteLength / MIB, 1)} MiB)`);
    console.log(
      formatTable(
        [{ title: "measure" }, { title: "unit" }, { title: "median", align: "right" }, { title: "spread", align: "right" }, { title: "n", align: "right" }],
        rows.map((row) => [row.label, row.unit, formatNumber(row.summary.median, row.decimals), formatRange(row.summary, row.decimals), String(row.summary.n)]),
      ),
    );
    json.preloaded_build_s = Number((preloaded.buildMs / 1000).toFixed(1));
    console.log(JSON.stringify(json));
  } finally {
    await Promise.all(variants.map((variant) => variant.runtime.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runPackagesBench, 15 * 60_000, progress);
