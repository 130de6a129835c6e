// The shape of the source tree: no file imports itself round a cycle, and dependencies between the
// top-level folders point one way only (protocol/ and rlm/ at the bottom, server/, client/ and the
// browser's page/ on top of them, never of each other).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { cyclePath, importCycles, importGraph, partGraph, type ImportGraph } from "./import-graph.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const graph = importGraph(REPO, ["server", "protocol", "rlm", "client", "page"]);

/** Imports one folder must not make of another, and why. */
const FORBIDDEN: { from: string; to: string; why: string }[] = [
  { from: "server/", to: "client/", why: "the server image does not carry the SDK" },
  { from: "protocol/", to: "server/", why: "the wire types are shared by server, client and tests" },
  { from: "protocol/", to: "client/", why: "the wire types are shared by server, client and tests" },
  { from: "rlm/", to: "server/", why: "the RLM loop runs on both sides" },
  { from: "rlm/", to: "client/", why: "the RLM loop runs on both sides" },
  { from: "server/", to: "page/", why: "the server bundles the page for browsers (server/page/bundle.ts), it never runs it" },
  { from: "page/", to: "server/", why: "the browser never runs the server's code" },
  { from: "page/", to: "client/", why: "the SDK is Node's; the page has a connection of its own" },
  { from: "page/", to: "rlm/", why: "the browser runs no RLM loop" },
];

/** What the page may take of protocol/: the wire types and constants, nothing that checks or parses. */
const PAGE_PROTOCOL = ["protocol/frames.ts"];

describe("the import graph of server/, protocol/, rlm/, client/ and page/", () => {
  test("has no cycles", () => {
    assert.ok(graph.size > 50, "the graph holds the source files");
    assert.deepEqual(
      importCycles(graph).map((component) => `${component.length} files: ${cyclePath(graph, component)}`),
      [],
    );
  });

  test("has no cycles between the server's folders (layers depend one way)", () => {
    const parts = partGraph(graph);
    assert.ok(parts.has("server/sessions/") && parts.has("server/metrics.ts"), "the parts are folders and top-level files");
    assert.deepEqual(
      importCycles(parts).map((component) => cyclePath(parts, component)),
      [],
    );
  });

  for (const rule of FORBIDDEN) {
    test(`has no import of ${rule.to} from ${rule.from} (${rule.why})`, () => {
      const edges = [...graph].flatMap(([file, imports]) => (file.startsWith(rule.from) ? imports.filter((imported) => imported.startsWith(rule.to)).map((imported) => `${file} -> ${imported}`) : []));
      assert.deepEqual(edges, []);
    });
  }

  test(`has page/ take of protocol/ only ${PAGE_PROTOCOL.join(", ")} (types and constants)`, () => {
    assert.ok([...graph.keys()].some((file) => file.startsWith("page/")), "the graph holds the page's sources");
    const edges = [...graph].flatMap(([file, imports]) => (file.startsWith("page/") ? imports.filter((imported) => imported.startsWith("protocol/") && !PAGE_PROTOCOL.includes(imported)).map((imported) => `${file} -> ${imported}`) : []));
    assert.deepEqual(edges, []);
  });
});

describe("reading imports and finding cycles", () => {
  const sample: ImportGraph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts", "d.ts"]],
    ["c.ts", ["a.ts"]],
    ["d.ts", ["e.ts"]],
    ["e.ts", ["d.ts", "leaf.ts"]],
    ["self.ts", ["self.ts"]],
    ["leaf.ts", []],
  ]);

  test("every strongly connected component, and one file importing itself", () => {
    assert.deepEqual(importCycles(sample), [["a.ts", "b.ts", "c.ts"], ["d.ts", "e.ts"], ["self.ts"]]);
  });

  test("a way round each, from its first file back to it", () => {
    assert.deepEqual(
      importCycles(sample).map((component) => cyclePath(sample, component)),
      ["a.ts -> b.ts -> c.ts -> a.ts", "d.ts -> e.ts -> d.ts", "self.ts -> self.ts"],
    );
  });

  test("a folder is one part: its files' imports of one another are not edges", () => {
    const sampleTree: ImportGraph = new Map([
      ["server/a/one.ts", ["server/a/two.ts", "server/b/three.ts"]],
      ["server/a/two.ts", []],
      ["server/b/three.ts", ["server/top.ts"]],
      ["server/top.ts", ["server/a/two.ts", "protocol/x.ts"]],
      ["protocol/x.ts", []],
    ]);
    const parts = partGraph(sampleTree);
    assert.deepEqual(Object.fromEntries(parts), { "server/a/": ["server/b/"], "server/b/": ["server/top.ts"], "server/top.ts": ["server/a/", "protocol/"], "protocol/": [] });
    assert.deepEqual(importCycles(parts).map((component) => cyclePath(parts, component)), ["server/a/ -> server/b/ -> server/top.ts -> server/a/"]);
  });

  test("type-only imports and re-exports are edges; packages are not", () => {
    assert.ok(graph.get("client/rlm/session-repl.ts")?.includes("rlm/driver.ts"), "import type");
    assert.ok(graph.get("client/index.ts")?.includes("protocol/frames.ts"), "export type * from");
    assert.ok(!graph.get("server/metrics.ts")?.some((imported) => imported.includes("prom-client")), "a package");
  });
});
