// Loading the repository's packages into an interpreter, on the worker: what a cell needs before
// it runs, what the base snapshot preloads, what a restored session had, and a user's own wheels.
// The Python side (packages.py) decides what to load and keeps the session's record; this side
// fetches files from the process's main thread (package-files.ts) and writes them into Pyodide's
// file system without a copy into the heap.
import type { CallWaiter } from "./host-calls.ts";
import type { PackageFileClient } from "./package-files.ts";

type PyCallable = (...args: unknown[]) => unknown;

/** The part of Pyodide's API loading needs. */
export interface LoaderPyodide {
  pyimport(name: string): Record<string, PyCallable>;
  loadPackage(names: string[], options: { messageCallback(message: string): void; errorCallback(message: string): void; checkIntegrity: boolean }): Promise<unknown>;
  /** Package (lock `name`) to where it was loaded from: Pyodide's loader skips those it holds. */
  loadedPackages: Record<string, string>;
  FS: { mkdirTree(path: string): void; writeFile(path: string, data: Uint8Array, options: { canOwn: boolean }): void };
  checkInterrupt(): void;
}

const HELPERS = ["configure", "attach", "detach", "requirements", "plan", "loaded", "mount", "to_reinstall", "reinstall_uploaded", "compiled", "import_packages", "install_uploaded"] as const;

interface WheelPlan {
  key: string;
  name: string;
  file_name: string;
  path: string;
  sha256?: string;
}

export class PackageLoader {
  private readonly helper: Record<(typeof HELPERS)[number], PyCallable>;

  /**
   * Takes the helper's functions (held, as the worker holds the other helpers': a cell may rebind
   * the module's attributes) and tells it the repository (`config`: main.ts, packageConfig).
   * `files`: null without a repository.
   */
  constructor(
    private readonly pyodide: LoaderPyodide,
    config: string,
    private readonly files: PackageFileClient | null,
    private readonly calls: CallWaiter,
  ) {
    const module = pyodide.pyimport("_wasm_repl_packages");
    this.helper = Object.fromEntries(HELPERS.map((name) => [name, module[name]])) as typeof this.helper;
    this.helper.configure(config);
    this.attach();
  }

  /** The repository packages (lock keys) a cell's code needs that the session lacks. */
  requirements(code: string): string[] {
    return JSON.parse(this.helper.requirements(code) as string) as string[];
  }

  /**
   * Loads repository packages (lock keys) and their dependencies; returns why any did not load,
   * or null. Pure-Python ones go on sys.path as wheels (packages.py); when any has compiled code,
   * Pyodide's loader installs them all (it loads their dynamic libraries).
   */
  async load(keys: string[]): Promise<string | null> {
    try {
      const plan = JSON.parse(this.helper.plan(JSON.stringify(keys)) as string) as { compiled: boolean; wheels: WheelPlan[] };
      if (plan.compiled) await this.loadWithPyodide(plan.wheels.map((wheel) => wheel.name));
      else for (const wheel of plan.wheels) await this.mount(wheel, true);
      return null;
    } catch (error) {
      return `could not load ${keys.join(", ")} from the package repository: ${reason(error).slice(0, 4000)}`;
    }
  }

  /** PRELOAD_PACKAGES: loaded, then every module of theirs imported; an error description (JSON) or null. */
  async preload(keys: string[]): Promise<string | null> {
    const unloaded = await this.load(keys);
    if (unloaded) return JSON.stringify({ type: "ImportError", message: unloaded, traceback: "" });
    return this.helper.import_packages(JSON.stringify(keys)) as string | null;
  }

  /** A user's pure-Python wheel (packages.py checks it); an error description (JSON) or null. */
  installUploaded(filename: string, wheel: Uint8Array): string | null {
    return this.helper.install_uploaded(filename, wheel) as string | null;
  }

  /**
   * A memory snapshot holds the heap, not the file system: the wheels the restored session (or
   * the base snapshot) had on sys.path are written back where they were.
   */
  async reinstall(): Promise<void> {
    const wheels = JSON.parse(this.helper.to_reinstall() as string) as WheelPlan[];
    for (const wheel of wheels) await this.mount(wheel, false);
    this.helper.reinstall_uploaded();
  }

  /** Why the session cannot be snapshotted (a compiled package's code lives outside the heap), or null. */
  snapshotBlocker(): string | null {
    const names = JSON.parse(this.helper.compiled() as string) as string[];
    return names.length > 0 ? `the session loaded packages with compiled code (${names.join(", ").slice(0, 500)}), which a memory snapshot cannot keep` : null;
  }

  /** Python's handle on the blocking file fetch; dropped while a snapshot is taken (it holds no JavaScript object). */
  attach(): void {
    this.helper.attach((name: string) => this.fileNow(name));
  }

  detach(): void {
    this.helper.detach();
  }

  /**
   * A repository file for Python while a cell runs (micropip.install of a name the cell
   * computes): the worker blocks, as in llm_query, until the main thread has written it into the
   * call buffer; an interrupt ends the wait.
   */
  private fileNow(name: string): Uint8Array {
    if (!this.files) throw new Error("this server has no package repository");
    return this.files.fetchNow(name, this.calls, () => this.pyodide.checkInterrupt());
  }

  /** Writes a repository wheel to its path and puts it on sys.path (`fresh`: checked and recorded; else written back after a restore). */
  private async mount(wheel: WheelPlan, fresh: boolean): Promise<void> {
    const bytes = await this.files!.fetch(wheel.file_name);
    if (fresh && wheel.sha256 !== (await sha256(bytes))) throw new Error(`${wheel.file_name} does not match its sha256 in the lock file: the file is damaged or was replaced`);
    this.pyodide.FS.mkdirTree(wheel.path.slice(0, wheel.path.lastIndexOf("/")));
    this.pyodide.FS.writeFile(wheel.path, bytes, { canOwn: true });
    if (fresh) this.helper.mount(wheel.key, wheel.path);
    // A compiled package that depends on this one must not have Pyodide's loader install it again.
    this.pyodide.loadedPackages[wheel.name] = "default channel";
  }

  /** Pyodide's loader, which reports failures only through its callback. */
  private async loadWithPyodide(names: string[]): Promise<void> {
    const errors: string[] = [];
    await this.pyodide.loadPackage(names, { messageCallback: () => {}, errorCallback: (message) => errors.push(message), checkIntegrity: true });
    const loaded = Object.keys(this.pyodide.loadedPackages);
    this.helper.loaded(JSON.stringify(loaded));
    const have = new Set(loaded.map(canonicalName));
    const missing = names.filter((name) => !have.has(canonicalName(name)));
    if (missing.length > 0 || errors.length > 0) throw new Error(`${missing.join(", ") || names.join(", ")}: ${errors.join(" ") || "the loader gave no reason"}`);
  }
}

/** An error's message; a Python one's last line (its message holds the whole traceback). */
function reason(error: unknown): string {
  const message = String((error as Error)?.message ?? error);
  return (error as { type?: unknown })?.type !== undefined ? message.trim().split("\n").at(-1)! : message;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}
