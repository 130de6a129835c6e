// Trying packages in a real sandbox: each one imported in a fresh interpreter that loads it from
// the repository, as a session would. What fails (a Debian build whose code does not run on
// Pyodide's Python) is reported, and `npm run packages -- --check` leaves it out.
import { silentLogger } from "../log.ts";
import { startSandboxRuntime } from "../sandbox/runtime.ts";
import type { SandboxLimits } from "../sandbox/sandbox.ts";
import { openRepository } from "./lock.ts";

export interface CheckOutcome {
  /** Null when all its imports work. */
  error: string | null;
  /** A repository module it needs imported first, which its lock entry cannot name (the two would depend on each other). */
  after: string | null;
}

const MISSING_MODULE = /^No module named '([\w.]+)'/;

/**
 * Imports each package (its lock key) in a fresh sandbox. One that fails for want of a module of
 * another repository package (soupsieve imports bs4, whose package depends on soupsieve) is tried
 * again with that module imported first.
 */
export async function checkPackages(dir: string, keys: string[], cacheDir: string, limits: SandboxLimits): Promise<Map<string, CheckOutcome>> {
  const repository = openRepository(dir);
  const provided = new Set(Object.values(repository.lock.packages).flatMap((entry) => entry.imports));
  const runtime = await startSandboxRuntime({ cacheDir, poolSize: 0, limits, log: silentLogger, packages: { dir: repository.dir, preload: [], digest: repository.digest } });
  const outcomes = new Map<string, CheckOutcome>();
  try {
    for (const key of keys) {
      const code = repository.lock.packages[key]!.imports.map((name) => `import ${name}\n`).join("");
      const sandbox = await runtime.start();
      try {
        const run = async (cell: string) => (await sandbox.execute({ code: cell, timeoutMs: 120_000, locals: "none" })).error;
        let error = await run(code);
        const needed = error?.type === "ModuleNotFoundError" ? MISSING_MODULE.exec(error.message)?.[1]?.split(".")[0] : undefined;
        if (needed && provided.has(needed)) error = await run(`import ${needed}\n${code}`);
        outcomes.set(key, { error: error ? `${error.type}: ${error.message}` : null, after: needed && !error ? needed : null });
      } finally {
        await sandbox.close();
      }
    }
  } finally {
    await runtime.close();
  }
  return outcomes;
}
