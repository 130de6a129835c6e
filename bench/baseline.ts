// An earlier commit checked out aside, so that a bench measures its server in the same run as this
// tree's: the same machine at the same time, so a difference is the code's, not the day's load.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./wasm-repl.ts";

export interface BaselineTree {
  /** Where it is checked out: the root to run its server from. */
  root: string;
  /** The commit the ref named, abbreviated: a ref such as HEAD~1 moves, the report must not. */
  commit: string;
}

/** Git's answer; on failure, an error that carries what git said (a ref that names nothing, say). */
function git(args: string[]): string {
  return execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/**
 * Runs `measure` on `ref` checked out detached in a scratch directory, and removes the checkout
 * afterwards, whatever happened. The checkout shares this tree's node_modules: installing them
 * again would take minutes, and the two trees then differ in their code alone.
 */
export async function withBaseline<T>(ref: string, measure: (tree: BaselineTree) => Promise<T>): Promise<T> {
  const commit = git(["rev-parse", "--short", `${ref}^{commit}`]);
  const root = mkdtempSync(join(tmpdir(), "wasm-repl-baseline-"));
  try {
    git(["worktree", "add", "--detach", "--force", root, commit]);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  try {
    symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"));
    return await measure({ root, commit });
  } finally {
    git(["worktree", "remove", "--force", root]);
    if (existsSync(root)) rmSync(root, { recursive: true, force: true });
  }
}
