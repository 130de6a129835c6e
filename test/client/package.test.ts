// The SDK as another project gets it: `npm pack` of the checkout (whose prepare script compiles
// dist/), `npm install` of that tarball in a new project, and then the README's TypeScript example
// run as an ES module by plain node (no tsx) against a real server, the CLI from the project's
// node_modules/.bin, and the example type-checked against the installed declarations. Also the
// checkout's import of itself, "wasm-repl/client", through package.json exports.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { startTestServer } from "../helpers/server.ts";

const root = join(import.meta.dirname, "../..");
const tsc = join(root, "node_modules/typescript/bin/tsc");
const server = await startTestServer();
const token = await server.token();

/**
 * This process's environment without what an npm script run (npm test) adds about the checkout
 * (npm_package_*, npm_lifecycle_*, npm_config_local_prefix, the checkout's path), which is nothing
 * for an npm working in the consumer project to go by. The user's own npm settings
 * (npm_config_cache, npm_config_registry, ...) stay.
 */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith("npm_") || (name.startsWith("npm_config_") && name !== "npm_config_local_prefix" && name !== "npm_config_call")),
);

/** Runs a command to its end, asynchronously (the server answers from this process); rejects with its output on a non-zero exit. */
async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<{ stdout: string; stderr: string }> {
  const running = promisify(execFile)(command, args, { cwd: options.cwd, env: options.env ?? childEnv, encoding: "utf8", maxBuffer: 16 << 20 });
  running.child.stdin?.end(options.input ?? "");
  return running;
}

const work = await mkdtemp(join(tmpdir(), "wasm-repl-package-"));
after(() => rm(work, { recursive: true, force: true }));

// npm pack runs the prepare script, which builds dist/ in the checkout.
const packed = JSON.parse((await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root })).stdout) as [{ filename: string; files: { path: string }[] }];
const tarball = join(work, packed[0].filename);

// A project of its own that installs the tarball, with what npm has cached (the checkout's own
// npm install put the SDK's few dependencies there).
const project = join(work, "consumer");
await mkdir(project);
await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
await run("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: project });

/** The README's TypeScript example (it is JavaScript too), aimed at the test server. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!).filter((code) => code.includes('from "wasm-repl/client"'));
  assert.equal(blocks.length, 1, "one TypeScript example imports wasm-repl/client");
  assert.ok(blocks[0]!.includes('"http://127.0.0.1:8000"'), "the example connects to the default address");
  return blocks[0]!.replace('"http://127.0.0.1:8000"', JSON.stringify(server.url));
}

/**
 * tsc over files of the project, as a consumer with strict settings and the given module resolution
 * would run it; with `checkDeclarations`, the installed .d.ts files are checked too (skipLibCheck
 * false: the slow part, over all of @types/node).
 */
function typecheck(files: string[], resolution: "node16" | "bundler", checkDeclarations: boolean): Promise<{ stdout: string }> {
  const module = resolution === "node16" ? "node16" : "preserve";
  const args = ["--noEmit", "--strict", "--skipLibCheck", String(!checkDeclarations), "--target", "es2022", "--module", module, "--moduleResolution", resolution, "--types", "node"];
  return run(process.execPath, [tsc, ...args, ...files], { cwd: project });
}

describe("the packed SDK", () => {
  test("holds the compiled SDK and the CLI, and no sources, tests, benchmarks, manifests or server", () => {
    const paths = packed[0].files.map((file) => file.path);
    for (const needed of ["package.json", "README.md", "client/bin.mjs", "dist/client/index.js", "dist/client/index.d.ts", "dist/client/cli.js", "dist/protocol/index.js", "dist/protocol/index.d.ts", "dist/rlm/driver.js"]) {
      assert.ok(paths.includes(needed), needed);
    }
    const unexpected = paths.filter((path) => !/^(dist\/(client|protocol|rlm)\/.*\.(js|d\.ts)|client\/bin\.mjs|package\.json|README\.md|protocol\/PROTOCOL\.md)$/.test(path));
    assert.deepEqual(unexpected, []);
  });

  test("installs without the server's dependencies", async () => {
    const installed = JSON.parse(await readFile(join(project, "node_modules/wasm-repl/package.json"), "utf8")) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(installed.dependencies).sort(), ["@types/ws", "openai", "ws"]);
    for (const absent of ["deno", "pyodide", "ioredis", "tsx", "typescript"]) assert.ok(!existsSync(join(project, "node_modules", absent)), `${absent} is not installed`);
  });

  test("runs the README's example with plain node", async () => {
    await writeFile(join(project, "example.mjs"), await readmeExample());
    const { stdout } = await run(process.execPath, ["example.mjs"], { cwd: project, env: { ...childEnv, WASM_REPL_TOKEN: token } });
    assert.equal(stdout, "area\n12.566370614359172\n");
  });

  test("type-checks the README's example against the installed declarations, which are not any", async () => {
    await writeFile(join(project, "example.ts"), await readmeExample());
    await writeFile(
      join(project, "frames.ts"),
      [
        'import type { ResultFrame } from "wasm-repl/protocol";',
        'import { ReplSession, WasmReplError } from "wasm-repl/client";',
        "export const value = (frame: ResultFrame): string | null => frame.value;",
        "export const code = (error: unknown) => error instanceof WasmReplError && error.code;",
        "export type Open = typeof ReplSession.open;",
        "",
      ].join("\n"),
    );
    // A wrong use must fail: the declarations are there and say what things are, not any.
    await writeFile(join(project, "wrong.ts"), 'import { ReplSession } from "wasm-repl/client";\nexport const wrong: number = (await ReplSession.open("http://127.0.0.1:1", { token: "" })).id;\n');
    await assert.rejects(typecheck(["example.ts", "frames.ts", "wrong.ts"], "node16", true), (error: { stdout: string }) => {
      assert.deepEqual(error.stdout.split("\n").filter((line) => /error TS/.test(line)), ["wrong.ts(2,14): error TS2322: Type 'string' is not assignable to type 'number'."]);
      return true;
    });
    await typecheck(["example.ts", "frames.ts"], "bundler", false);
  });

  test("runs the CLI from node_modules/.bin without tsx", async () => {
    const { stdout, stderr } = await run(join(project, "node_modules/.bin/wasm-repl"), ["repl", server.url, "--token", token], { cwd: project, input: "x = 6 * 7\nx\n" });
    assert.equal(stdout, "42\n");
    assert.match(stderr, /^wasm-repl session \S+ on http/);
  });
});

describe("the checkout imports itself as wasm-repl/client", () => {
  const resolveAndLoad = 'const m = await import("wasm-repl/client"); console.log(import.meta.resolve("wasm-repl/client"), typeof m.ReplSession);';

  test("plain node loads the build in dist/", async () => {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", resolveAndLoad], { cwd: root });
    assert.equal(stdout, `${new URL("../../dist/client/index.js", import.meta.url).href} function\n`);
  });

  test("tsx with the wasm-repl-source condition loads the sources", async () => {
    const { stdout } = await run(process.execPath, ["--conditions=wasm-repl-source", "--import", "tsx", "--input-type=module", "-e", resolveAndLoad], { cwd: root });
    assert.equal(stdout, `${new URL("../../client/index.ts", import.meta.url).href} function\n`);
  });
});
