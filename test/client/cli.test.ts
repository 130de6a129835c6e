// The `wasm-repl` CLI: when a line continues a statement, and `wasm-repl repl` driven through a pipe.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { describe, test } from "node:test";
import { needsMoreInput } from "../../client/cli.ts";
import { ReplSession } from "../../client/index.ts";
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
  const child = spawn(process.execPath, ["client/bin.mjs", ...args], { cwd: root, env, stdio: "pipe" });
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
    const cli = startCli(["repl", server.url, "--token", token], { ...process.env, WASM_REPL_TOKEN: "" });
    cli.stdin.end(["x = 20", "def f(a):", "    return a * 2", "", "print(f(x) + 2)", "x", "1/0", "'after the error'"].join("\n") + "\n");
    assert.equal(await cli.exitCode, 0, cli.stderr);
    assert.equal(cli.stdout, "42\n20\n'after the error'\n");
    assert.match(cli.stderr, /^wasm-repl session \S+ on http/);
    assert.match(cli.stderr, /Traceback[\s\S]*ZeroDivisionError: division by zero/);
    assert.doesNotMatch(cli.stderr, />>>/, "no prompts without a terminal");
  });

  test("SIGINT interrupts the running cell and the REPL carries on", async () => {
    const cli = startCli(["repl", server.url]);
    cli.stdin.write('import time; print("sleeping", flush=True); time.sleep(30)\n');
    await cli.waitFor("stdout", /sleeping/);
    cli.signal("SIGINT");
    await cli.waitFor("stderr", /KeyboardInterrupt/);
    cli.stdin.end('print("still here")\n');
    assert.equal(await cli.exitCode, 0, cli.stderr);
    assert.equal(cli.stdout, "sleeping\nstill here\n");
  });

  test("--keep leaves the session open, and --session attaches to it", async () => {
    const first = startCli(["repl", server.url, "--keep"]);
    first.stdin.end("kept = 'yes'\n");
    assert.equal(await first.exitCode, 0, first.stderr);
    const id = /session (\S+) kept; attach to it again with: wasm-repl repl \S+ --session \1/.exec(first.stderr)?.[1];
    assert.ok(id, first.stderr);

    const second = startCli(["repl", server.url, "--session", id]);
    second.stdin.end("kept\n");
    assert.equal(await second.exitCode, 0, second.stderr);
    assert.equal(second.stdout, "'yes'\n");

    const third = startCli(["repl", server.url, "--session", id]);
    third.stdin.end();
    assert.equal(await third.exitCode, 1, "the second run closed the session");
    assert.match(third.stderr, /^error \[session_expired\]: /);
  });

  test("--env gives the new session's Python environment variables", async () => {
    const cli = startCli(["repl", server.url, "--env", "GREETING=hi=there", "--env", "EMPTY="]);
    cli.stdin.end("import os\nos.environ['GREETING'], os.environ['EMPTY']\n");
    assert.equal(await cli.exitCode, 0, cli.stderr);
    assert.equal(cli.stdout, "('hi=there', '')\n");
    const refused = startCli(["repl", server.url, "--env", "NOEQUALS"]);
    refused.stdin.end();
    assert.equal(await refused.exitCode, 2);
    assert.match(refused.stderr, /--env expects NAME=VALUE/);
  });

  test("without a token it says where to get one", async () => {
    const { WASM_REPL_TOKEN: _ignored, ...env } = process.env;
    const cli = startCli(["repl", server.url], env);
    cli.stdin.end();
    assert.equal(await cli.exitCode, 2);
    assert.match(cli.stderr, /pass --token TOKEN or set WASM_REPL_TOKEN[\s\S]*`token: \.\.\.` line/);
  });
});

describe("wasm-repl files", () => {
  /** Runs a `files` command to its end. */
  async function files(...args: string[]): Promise<Cli & { code: number | null }> {
    const cli = startCli(["files", ...args]);
    cli.stdin.end();
    const code = await cli.exitCode;
    return { ...cli, code };
  }

  test("uploads, lists, downloads and deletes a session's files, which its Python sees", async () => {
    const session = await ReplSession.open(server.url, { token });
    const dir = await mkdtemp(join(tmpdir(), "wasm-repl-cli-"));
    await writeFile(join(dir, "local.csv"), "a,b\n1,2\n");
    assert.equal((await files("upload", server.url, session.id, join(dir, "local.csv"), "data/remote.csv")).code, 0);
    assert.equal((await files("upload", server.url, session.id, join(dir, "local.csv"))).code, 0, "named as the local file by default");
    const listed = await files("list", server.url, session.id);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split("\n").map((line) => line.trim().split(/\s+/)), [["8", "data/remote.csv"], ["8", "local.csv"]]);
    await session.execute("open('data/remote.csv', 'a').write('3,4\\n')");
    const printed = await files("download", server.url, session.id, "data/remote.csv", "-");
    assert.equal(printed.stdout, "a,b\n1,2\n3,4\n");
    assert.equal((await files("download", server.url, session.id, "data/remote.csv", join(dir, "back.csv"))).code, 0);
    assert.equal(await readFile(join(dir, "back.csv"), "utf8"), "a,b\n1,2\n3,4\n");
    assert.equal((await files("delete", server.url, session.id, "data/remote.csv")).code, 0);
    const missing = await files("download", server.url, session.id, "data/remote.csv", "-");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error \[file_not_found\]: there is no file data\/remote\.csv/);
    const escaping = await files("upload", server.url, session.id, join(dir, "local.csv"), "../outside.csv");
    assert.equal(escaping.code, 1);
    assert.match(escaping.stderr, /^error \[bad_request\]/);
    await session.close();
  });

  test("a wrong action or a missing argument is a usage error", async () => {
    assert.equal((await files("move", server.url, "abc")).code, 2);
    const short = await files("upload", server.url, "abc");
    assert.equal(short.code, 2);
    assert.match(short.stderr, /expected: wasm-repl files upload \[URL\] SESSION LOCAL \[PATH\]/);
  });
});
