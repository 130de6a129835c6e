// Error boundaries: a callback that throws or rejects is reported (logged with its stack,
// counted) and answered for, and nothing escapes to the event loop; the process-level boundary
// keeps a process alive through a stray rejection or exception.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { test } from "node:test";
import { guard } from "../server/boundary.ts";
import { createLogger } from "../server/log.ts";
import { Metrics } from "../server/metrics.ts";

function recorder() {
  const lines: Record<string, unknown>[] = [];
  const metrics = new Metrics({ tenants: [], models: [] });
  return { lines, metrics, reporter: { log: createLogger("info", (line) => lines.push(JSON.parse(line))), metrics } };
}

async function internalErrors(metrics: Metrics, where: string): Promise<number> {
  return Number(new RegExp(`wasm_repl_internal_errors_total\\{where="${where}"\\} (\\d+)`).exec(await metrics.text())?.[1]);
}

test("a throw or a rejection is logged with its stack, counted, and recovered with the callback's arguments", async () => {
  const { lines, metrics, reporter } = recorder();
  const recovered: string[] = [];
  const sync = guard(reporter, "request", (name: string) => {
    throw new Error(`sync ${name}`);
  }, (name) => recovered.push(name));
  const async = guard(reporter, "frame", async (name: string) => {
    await Promise.resolve();
    throw new Error(`async ${name}`);
  }, (name) => recovered.push(name));
  assert.doesNotThrow(() => sync("a"));
  async("b");
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(recovered, ["a", "b"]);
  assert.deepEqual(lines.map((line) => [line.event, line.error]), [["request_failed", "sync a"], ["frame_failed", "async b"]]);
  assert.match(String(lines[0]!.stack), /boundary\.test\.ts/);
  assert.equal(await internalErrors(metrics, "request"), 1);
  assert.equal(await internalErrors(metrics, "frame"), 1);
  assert.equal(await internalErrors(metrics, "timer"), 0, "every place starts at zero");
});

test("a recovery that throws is reported too, and still nothing escapes", async () => {
  const { lines, metrics, reporter } = recorder();
  const callback = guard(reporter, "upgrade", () => {
    throw new Error("first");
  }, () => {
    throw new Error("while answering");
  });
  assert.doesNotThrow(() => callback());
  assert.deepEqual(lines.map((line) => [line.error, line.while]), [["first", undefined], ["while answering", "recovering"]]);
  assert.equal(await internalErrors(metrics, "upgrade"), 2);
});

test("a callback that succeeds is left alone", async () => {
  const { lines, reporter } = recorder();
  let ran = 0;
  guard(reporter, "timer", () => void ran++)();
  await guard(reporter, "timer", async () => void ran++)();
  assert.equal(ran, 2);
  assert.deepEqual(lines, []);
});

test("the process boundary logs and counts a stray rejection and exception, and the process goes on", async () => {
  // In a process of its own: the test runner keeps handlers of its own for these in this one.
  const script = `
    import { installProcessBoundary } from "./server/boundary.ts";
    import { createLogger } from "./server/log.ts";
    import { Metrics } from "./server/metrics.ts";
    const metrics = new Metrics({ tenants: [], models: [] });
    installProcessBoundary({ log: createLogger("info"), metrics });
    Promise.reject(new Error("a stray rejection"));
    setTimeout(() => { throw new Error("a throw in a timer"); });
    setTimeout(async () => {
      const count = /wasm_repl_internal_errors_total\\{where="process"\\} (\\d+)/.exec(await metrics.text())[1];
      console.log(JSON.stringify({ event: "still_running", count }));
    }, 50);
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: join(import.meta.dirname, "..") });
  const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
  const failures = lines.filter((line) => line.event === "unhandled_failure");
  assert.deepEqual(failures.map((line) => [line.kind, line.error]), [["unhandled_rejection", "a stray rejection"], ["uncaught_exception", "a throw in a timer"]]);
  assert.ok(failures.every((line) => /at /.test(line.stack)), "each is logged with its stack");
  assert.deepEqual(lines.at(-1), { event: "still_running", count: "2" });
});
