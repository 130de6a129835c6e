// `npm run token` signs with the configured secret, and the server accepts what it prints.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { ReplSession } from "../../client/index.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ POOL_SIZE: "0" });
const script = join(import.meta.dirname, "../../server/issue-token.ts");

function issue(args: string[]) {
  return promisify(execFile)(process.execPath, ["--import", "tsx", script, ...args], { env: { ...process.env, JWT_SECRET: server.secret } });
}

test("the printed token opens a session for the given tenant and user", async () => {
  const { stdout } = await issue(["--tenant", "acme", "--user", "alice", "--ttl", "10m"]);
  const payload = JSON.parse(Buffer.from(stdout.trim().split(".")[1]!, "base64url").toString());
  assert.equal(payload.sub, "alice");
  assert.equal(payload.tenant, "acme");
  assert.equal(payload.exp - payload.iat, 600);
  const session = await ReplSession.open(server.url, { token: stdout.trim() });
  await session.close();
});

test("bad arguments are explained", async () => {
  await assert.rejects(issue(["--tenant", "acme"]), /--tenant and --user are required/);
  await assert.rejects(issue(["--tenant", "a", "--user", "b", "--scope", "root"]), /unknown scope root/);
  await assert.rejects(issue(["--tenant", "a", "--user", "b", "--ttl", "soon"]), /expected a duration like/);
});
