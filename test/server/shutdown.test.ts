// `npm start` in development mode, and a clean drain on SIGTERM.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";

const root = join(import.meta.dirname, "../..");

test("without JWT_SECRET the server prints a working token; SIGTERM evicts, closes with 1012 and stops every sandbox", async () => {
  const { JWT_SECRET: _ignored, ...env } = process.env;
  const server = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: root,
    env: { ...env, PORT: "0", POOL_SIZE: "1", LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines = createInterface({ input: server.stderr! });
  let url = "";
  let token = "";
  for await (const line of lines) {
    url ||= /listening on (http:\/\/\S+)/.exec(line)?.[1] ?? "";
    if (line.startsWith("token: ")) token = line.slice("token: ".length);
    if (url && token) break;
  }
  const session = await ReplSession.open(url, { token, reconnect: false });
  await session.execute("x = 1");
  // Sandboxes only: tsx also runs a helper process (esbuild) of its own.
  const sandboxPids = execFileSync("pgrep", ["-P", String(server.pid), "-f", "guest/main.ts"]).toString().trim().split("\n").map(Number);
  assert.ok(sandboxPids.length >= 1, "the server runs sandboxes");

  const evicted = new Promise((resolve) => session.once("evicted", resolve));
  const closeCode = new Promise((resolve) => session.connection!.once("close", resolve));
  server.kill("SIGTERM");
  assert.equal(await evicted, "shutdown");
  assert.equal(await closeCode, 1012);
  const [code] = await once(server, "exit");
  assert.equal(code, 0);
  for (const pid of sandboxPids) assert.equal(existsSync(`/proc/${pid}`), false, `sandbox ${pid} stopped`);
});

test("starting on a non-loopback HOST without JWT_SECRET is refused with a message naming what to set", async () => {
  const { JWT_SECRET: _ignored, ...env } = process.env;
  const server = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], { cwd: root, env: { ...env, HOST: "0.0.0.0" }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  server.stderr!.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(server, "exit");
  assert.equal(code, 2);
  assert.match(stderr, /HOST="0.0.0.0" is not a loopback address: without JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL.*set one of them/);
});
