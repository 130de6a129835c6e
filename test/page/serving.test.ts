// How the server serves the notebook page (server/page/bundle.ts, server/http/page-endpoint.ts):
// its shell at /, its assets under their version, the policies and caching each answer carries,
// a bundle built once per version of the sources, and no page at all with PAGE=false.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../../server/log.ts";
import { loadPage, pageVersion } from "../../server/page/bundle.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();

test("GET / is the page's shell: HTML under a policy that runs this origin's scripts alone, asked again every time", async () => {
  const answer = await fetch(`${server.url}/`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(answer.headers.get("cache-control"), "no-cache");
  assert.equal(answer.headers.get("x-content-type-options"), "nosniff");
  const policy = answer.headers.get("content-security-policy") ?? "";
  for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) assert.ok(policy.includes(directive), `${directive} in ${policy}`);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/, "the page itself runs no inline script or style but the nonce's");
  const html = await answer.text();
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, "no inline script");
  const version = await pageVersion();
  assert.ok(html.includes(`src="/page/${version}/main.js"`) && html.includes(`href="/page/${version}/style.css"`), "its assets are named by version");
  // The editor's style elements carry this answer's nonce: a new one every time.
  const nonce = /style-src 'self' 'nonce-([^']+)'/.exec(policy)?.[1];
  assert.ok(nonce && html.includes(`content="${nonce}"`), "the nonce of the policy is in the shell");
  const again = (await fetch(`${server.url}/`)).headers.get("content-security-policy");
  assert.notEqual(/nonce-([^']+)/.exec(again ?? "")?.[1], nonce);
});

test("assets are served under their version for good; the output frame's document has a policy of its own", async () => {
  const version = await pageVersion();
  const script = await fetch(`${server.url}/page/${version}/main.js`);
  assert.equal(script.status, 200);
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.ok((await script.text()).length > 10_000, "the bundle holds the editor");
  const style = await fetch(`${server.url}/page/${version}/style.css`);
  assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
  const frame = await fetch(`${server.url}/page/${version}/frame.html`);
  assert.equal(frame.headers.get("content-type"), "text/html; charset=utf-8");
  const policy = frame.headers.get("content-security-policy") ?? "";
  assert.ok(policy.includes("connect-src 'none'"), "what a cell displays sends nothing anywhere");
  assert.ok(policy.includes("sandbox allow-scripts"), "an opaque origin even when opened on its own");
  assert.ok(policy.includes("script-src 'unsafe-inline'"), "its own scripts run (in an opaque origin: the page loads it sandboxed)");
});

test("an asset of another version, or none, is 404 naming where the assets are", async () => {
  const version = await pageVersion();
  for (const path of [`/page/0123456789abcdef/main.js`, `/page/${version}/nothing.js`, `/page/${version}`, `/page/${version}/main.js/x`]) {
    const answer = await fetch(`${server.url}${path}`);
    assert.equal(answer.status, 404, path);
    const body = (await answer.json()) as { code: string; message: string };
    assert.equal(body.code, "not_found");
    assert.match(body.message, new RegExp(`under /page/${version}/`));
  }
});

test("the API's answers are as they were: an unknown path is JSON naming every route, the page's among them", async () => {
  const answer = await fetch(`${server.url}/nowhere`);
  assert.equal(answer.status, 404);
  const { message } = (await answer.json()) as { message: string };
  assert.match(message, /GET \/health/);
  assert.match(message, /GET \/ and GET \/page\/\{asset\}$/);
});

test("the bundle is built once per version of the sources, into the cache, then read from it; older versions' are removed", async () => {
  const cache = await mkdtemp(join(tmpdir(), "wasm-repl-page-"));
  try {
    await mkdir(join(cache, "page-0123456789abcdef"));
    await writeFile(join(cache, "base-keep.snapshot"), "");
    const events: string[] = [];
    const log = createLogger("info", (line) => events.push((JSON.parse(line) as { event: string }).event));
    const first = await loadPage(cache, log);
    const second = await loadPage(cache, log);
    assert.deepEqual(events, ["page_built"], "the second start found it");
    assert.deepEqual((await readdir(cache)).sort(), ["base-keep.snapshot", `page-${first.version}`], "one directory, named by the version; nothing left of the build or of older bundles, nothing else touched");
    assert.equal(second.version, await pageVersion());
    assert.deepEqual([...second.assets.keys()].sort(), ["frame.html", "main.js", "style.css"]);
    assert.ok(second.index.body.equals(first.index.body));
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test("PAGE=false: no page, and / is a route no more", async () => {
  const plain = await startTestServer({ PAGE: "false" });
  const answer = await fetch(`${plain.url}/`);
  assert.equal(answer.status, 404);
  assert.doesNotMatch(((await answer.json()) as { message: string }).message, /page/);
  await plain.shutdown();
});
