// Who installs what. The root package.json is the SDK that other projects install (client/, with the
// protocol/ and rlm/ it imports, compiled to dist/): its dependencies are what that code imports and
// no more, so a consumer does not download Deno and Pyodide. The server's runtime dependencies are
// those of the workspace server/ (server/package.json), which a checkout's npm install and the
// image's npm ci --omit=dev install with the root's, and which npm pack leaves out.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { packageImports } from "./import-graph.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

interface Manifest {
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
  workspaces?: string[];
}
const manifest = (path: string) => JSON.parse(readFileSync(join(REPO, path), "utf8")) as Manifest;
const root = manifest("package.json");
const server = manifest("server/package.json");

/** Dependencies for the SDK's declarations, not its JavaScript: ReplSession's `connection` is a ws WebSocket. */
const DECLARATION_TYPES = ["@types/ws"];

test("the SDK depends on exactly the packages client/, protocol/ and rlm/ import, and the types its declarations name", () => {
  const imported = packageImports(REPO, ["client", "protocol", "rlm"]);
  // client/bin.mjs imports tsx only in a checkout, to run the CLI from its sources; an installed
  // package runs the compiled dist/ instead.
  assert.deepEqual(imported.get("tsx"), ["client/bin.mjs"]);
  imported.delete("tsx");
  assert.ok(root.devDependencies?.tsx, "tsx is the checkout's: npm start, npm test, client/bin.mjs from the sources");
  assert.deepEqual(Object.keys(root.dependencies).sort(), [...imported.keys(), ...DECLARATION_TYPES].sort(), "a package only the server needs belongs in server/package.json");
});

test("the server's workspace declares every package server/ (and the protocol/ and rlm/ it imports) needs at run time", () => {
  assert.deepEqual(root.workspaces, ["server"]);
  const imported = packageImports(REPO, ["server", "protocol", "rlm"]);
  const missing = [...imported].filter(([name]) => !server.dependencies[name]).map(([name, files]) => `${name} (${files.join(", ")})`);
  assert.deepEqual(missing, []);
  for (const runtime of ["tsx", "deno", "pyodide"]) assert.ok(server.dependencies[runtime], `${runtime}: the image runs node --import tsx server/main.ts, which starts Deno with Pyodide`);
  for (const [name, range] of Object.entries(root.dependencies)) {
    if (server.dependencies[name]) assert.equal(server.dependencies[name], range, `${name}: one range for the SDK and the server, so npm installs one copy`);
  }
});
