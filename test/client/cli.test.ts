// The `wasm-repl` CLI: when a line continues a statement, and `wasm-repl repl` driven through a pipe.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { describe, test } from "node:test";
import { needsMoreInput } from "../../client/cli.ts";
import { startTestServer } from "../helpers/server.ts";

const root = join(import.meta.dirname, "../..");
const server = await startTestServer();
const token = await server.token();

describe("needsMoreInput", () => {
  test("a simple statement is complete", () => {
    assert.equal(needsMoreInput("x = 1"), false);
    assert.equal(needsMoreInput(""), false);
  });

  test("a compound statement continues until a blank line", () => {
    assert.equal(needsMoreInput("def f():"), true);
    assert.equal(needsMoreInput("def f():  # a comment: not the colon"), true);
    assert.equal(needsMoreInput("def f():\n    return 1"), true);
    assert.equal(needsMoreInput("def f():\n    return 1\n"), false);
    assert.equal(needsMoreInput("if x:\n    pass\nelse:\n    pass\n   "), false);
    assert.equal(needsMoreInput("@decorator"), true);
    assert.equal(needsMoreInput("while True: pass"), true, "one-liners too, so that an else can follow");
    assert.equal(needsMoreInput("if x: y = 1\nelse: y = 2"), true);
    assert.equal(needsMoreInput("formula = 1"), false);
    assert.equal(needsMoreInput("y = (a\n  if b else c)"), false);
  });

  test("open brackets continue, even over a blank line; closing them completes the statement", () => {
    assert.equal(needsMoreInput("x = [1,"), true);
    assert.equal(needsMoreInput("f(a,\n"), true);
    assert.equal(needsMoreInput("x = {1:\n  2}"), false);
    assert.equal(needsMoreInput("x = ')'"), false);
  });

  test("a triple-quoted string continues until it is closed", () => {
    assert.equal(needsMoreInput('s = """abc'), true);
    assert.equal(needsMoreInput("s = '''abc\n\ndef:"), true);
    assert.equal(needsMoreInput('s = """abc\ndef"""'), false);
    assert.equal(needsMoreInput('s = "a:"'), false);
  });

  test("a trailing backslash continues the line", () => {
    assert.equal(needsMoreInput("x = 1 + \\"), true);
    assert.equal(needsMoreInput("x = 1 + \\\n  2"), false);
    assert.equal(needsMoreInput("x = 1  # \\"), false);
  });
});

interface Cli {
  stdin: NodeJS.WritableStream;
  stdout: string;
  stderr: string;
  /** Resolves once stdout or stderr (so far) matches. */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp): Promise<void>;
  signal(name: NodeJS.Signals): void;
  exitCode: Promise<number | null>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv = { ...process.env, WASM_REPL_TOKEN: token }): Cli {
  const child = spawn(process.execPath, ["client/bin.mjs", "repl", ...args], { cwd: root, env, stdio: "pipe" });
  const cli: Cli = {
    stdin: child.stdin,
    stdout: "",
    stderr: "",
    waitFor: (stream, pattern) =>
      new Promise((resolve) => {
        const check = () => pattern.test(cli[stream]) && resolve();
        check();
        child[stream].on("data", check);
      }),
    signal: (name) => child.kill(name),
    exitCode: once(child, "exit").then(([code]) => code as number | null),
  };
  const collect = (stream: Readable, name: "stdout" | "stderr") => stream.setEncoding("utf8").on("data", (text: string) => (cli[name] += text));
  collect(child.stdout, "stdout");
  collect(child.stderr, "stderr");
  return cli;
}

describe("wasm-repl repl", () => {
  test("runs piped lines as a REPL would: blocks, values, tracebacks; exits 0 at the end of input", async () => {
    const cli = startCli([server.url, "--token", token], { ...process.env, WASM_REPL_TOKEN: "" });
    cli.stdin.end(["x = 20", "def f(a):", "    return a * 2", "", "print(f(x) + 2)", "x", "1/0", "'after the error'"].join("\n") + "\n");
    assert.equal(await cli.exitCode, 0, cli.stderr);
    assert.equal(cli.stdout, "42\n20\n'after the error'\n");
    assert.match(cli.stderr, /^wasm-repl session \S+ on http/);
    assert.match(cli.stderr, /Traceback[\s\S]*ZeroDivisionError: division by zero/);
    assert.doesNotMatch(cli.stderr, />>>/, "no prompts without a terminal");
  });

  test("SIGINT interrupts the running cell and the REPL carries on", async () => {
    const cli = startCli([server.url]);
    cli.stdin.write('import time; print("sleeping", flush=True); time.sleep(30)\n');
    await cli.waitFor("stdout", /sleeping/);
    cli.signal("SIGINT");
    await cli.waitFor("stderr", /KeyboardInterrupt/);
    cli.stdin.end('print("still here")\n');
    assert.equal(await cli.exitCode, 0, cli.stderr);
    assert.equal(cli.stdout, "sleeping\nstill here\n");
  });

  test("--keep leaves the session open, and --session attaches to it", async () => {
    const first = startCli([server.url, "--keep"]);
    first.stdin.end("kept = 'yes'\n");
    assert.equal(await first.exitCode, 0, first.stderr);
    const id = /session (\S+) kept; attach to it again with: wasm-repl repl \S+ --session \1/.exec(first.stderr)?.[1];
    assert.ok(id, first.stderr);

    const second = startCli([server.url, "--session", id]);
    second.stdin.end("kept\n");
    assert.equal(await second.exitCode, 0, second.stderr);
    assert.equal(second.stdout, "'yes'\n");

    const third = startCli([server.url, "--session", id]);
    third.stdin.end();
    assert.equal(await third.exitCode, 1, "the second run closed the session");
    assert.match(third.stderr, /^error \[session_expired\]: /);
  });

  test("without a token it says where to get one", async () => {
    const { WASM_REPL_TOKEN: _ignored, ...env } = process.env;
    const cli = startCli([server.url], env);
    cli.stdin.end();
    assert.equal(await cli.exitCode, 2);
    assert.match(cli.stderr, /pass --token TOKEN or set WASM_REPL_TOKEN[\s\S]*`token: \.\.\.` line/);
  });
});
