// The route table on its own (server/http/routes.ts): which route a path and method find, their
// parameters, and the texts that answer what no route serves. No server is started.
import assert from "node:assert/strict";
import { test } from "node:test";
import { param, RouteTable, type Method } from "../../server/http/routes.ts";

interface Named {
  method: Method;
  path: string;
  name: string;
}

const table = new RouteTable<Named>([
  { method: "WEBSOCKET", path: "/v1/sessions", name: "open" },
  { method: "WEBSOCKET", path: "/v1/sessions/:id", name: "attach" },
  { method: "GET", path: "/v1/sessions", name: "list" },
  { method: "DELETE", path: "/v1/sessions/:id", name: "end" },
  { method: "GET", path: "/health", name: "health" },
]);

const names = (routes: readonly Named[]) => routes.map((route) => route.name);

test("a request finds the route of its method and path, with the path's parameters", () => {
  const listed = table.forRequest("GET", "/v1/sessions");
  assert.equal(listed.route?.name, "list");
  assert.deepEqual(listed.route && listed.params, {});
  const ended = table.forRequest("DELETE", "/v1/sessions/abc_DEF-123");
  assert.equal(ended.route?.name, "end");
  assert.equal(ended.route && param(ended.params, "id"), "abc_DEF-123");
  assert.throws(() => ended.route && param(ended.params, "name"), /no parameter name/);
});

test("one trailing slash is tolerated, two are not", () => {
  assert.equal(table.forRequest("GET", "/v1/sessions/").route?.name, "list");
  assert.equal(table.forRequest("GET", "/health/").route?.name, "health");
  const ended = table.forRequest("DELETE", "/v1/sessions/abc/");
  assert.deepEqual(ended.route && ended.params, { id: "abc" });
  assert.equal(table.forRequest("GET", "/v1/sessions//").route, null);
  assert.equal(table.forRequest("DELETE", "/v1/sessions/abc//").route, null);
});

test("a parameter matches an identifier of 1 to 64 letters, digits, _ and - only", () => {
  assert.equal(table.forRequest("DELETE", `/v1/sessions/${"a".repeat(64)}`).route?.name, "end");
  for (const id of ["a".repeat(65), "a.b", "a%20b", "a:b"]) {
    const match = table.forRequest("DELETE", `/v1/sessions/${id}`);
    assert.equal(match.route, null, id);
    assert.deepEqual(match.route === null && match.others, [], `${id}: no route has the path`);
  }
  assert.equal(table.forRequest("DELETE", "/v1/sessions/a/b").route, null, "a parameter is one segment");
});

test("a known path asked with another method is told from an unknown path", () => {
  const posted = table.forRequest("POST", "/v1/sessions");
  assert.equal(posted.route, null);
  assert.deepEqual(posted.route === null && names(posted.others), ["open", "list"]);
  const unknown = table.forRequest("GET", "/nowhere");
  assert.deepEqual(unknown.route === null && unknown.others, []);
  assert.equal(table.forRequest("HEAD", "/health").route, null, "HEAD is not GET");
  assert.equal(table.forRequest("get", "/health").route, null, "methods are matched as sent");
});

test("plain requests never find a WebSocket route, and upgrades find only those", () => {
  const plain = table.forRequest("WEBSOCKET", "/v1/sessions/abc");
  assert.deepEqual(plain.route === null && names(plain.others), ["attach", "end"]);
  const attach = table.forUpgrade("/v1/sessions/abc");
  assert.equal(attach.route?.name, "attach");
  assert.deepEqual(attach.route && attach.params, { id: "abc" });
  assert.equal(table.forUpgrade("/v1/sessions/").route?.name, "open");
  const health = table.forUpgrade("/health");
  assert.deepEqual(health.route === null && names(health.others), ["health"]);
});

test("a tail parameter takes the rest of the path, slashes and escapes as they came", () => {
  const files = new RouteTable<Named>([
    { method: "GET", path: "/v1/sessions/:id/files", name: "list" },
    { method: "GET", path: "/v1/sessions/:id/files/*path", name: "read" },
  ]);
  const read = files.forRequest("GET", "/v1/sessions/abc/files/data/a%20b.csv");
  assert.equal(read.route?.name, "read");
  assert.deepEqual(read.route && read.params, { id: "abc", path: "data/a%20b.csv" });
  const escaped = files.forRequest("GET", "/v1/sessions/abc/files/..%2Fx");
  assert.deepEqual(escaped.route && escaped.params, { id: "abc", path: "..%2Fx" }, "not decoded: its handler checks what it decodes");
  assert.equal(files.forRequest("GET", "/v1/sessions/abc/files/").route?.name, "list", "an empty tail is the path without it");
  assert.equal(files.noRoute("PUT", "/x", []), "no route for PUT /x; this port serves GET /v1/sessions/{id}/files and GET /v1/sessions/{id}/files/{path}");
});

test("the first route declared wins where patterns overlap", () => {
  const overlapping = new RouteTable<Named>([
    { method: "GET", path: "/v1/sessions/active", name: "active" },
    { method: "GET", path: "/v1/sessions/:id", name: "one" },
  ]);
  assert.equal(overlapping.forRequest("GET", "/v1/sessions/active").route?.name, "active");
  assert.equal(overlapping.forRequest("GET", "/v1/sessions/other").route?.name, "one");
});

test("an unknown path is answered with every route; a known one, with what it serves", () => {
  const unknown = table.forRequest("GET", "/nowhere");
  assert.equal(
    table.noRoute("GET", "/nowhere", unknown.route === null ? unknown.others : []),
    "no route for GET /nowhere; this port serves WebSocket /v1/sessions, WebSocket /v1/sessions/{id}, GET /v1/sessions, DELETE /v1/sessions/{id} and GET /health",
  );
  const posted = table.forRequest("POST", "/health");
  assert.equal(table.noRoute("POST", "/health", posted.route === null ? posted.others : []), "no route for POST /health; this path serves GET /health");
  const plain = table.forRequest("GET", "/v1/sessions/abc");
  assert.equal(
    table.noRoute("GET", "/v1/sessions/abc", plain.route === null ? plain.others : []),
    "no route for GET /v1/sessions/abc; this path serves WebSocket /v1/sessions/{id} and DELETE /v1/sessions/{id} (a WebSocket is a GET with Upgrade: websocket)",
  );
  assert.equal(table.noWebSocket("/health"), "no WebSocket endpoint at /health; the WebSocket endpoints are /v1/sessions and /v1/sessions/{id}");
});

test("a table of one route says it serves that route alone", () => {
  const metrics = new RouteTable<Named>([{ method: "GET", path: "/metrics", name: "metrics" }]);
  assert.equal(metrics.forRequest("GET", "/metrics").route?.name, "metrics");
  assert.equal(metrics.noRoute("GET", "/health", []), "no route for GET /health; this port serves GET /metrics");
  assert.equal(metrics.noWebSocket("/v1/sessions"), "no WebSocket endpoint at /v1/sessions; this port has none");
});

test("a route declared twice, or a pattern the table cannot match, is refused when the table is built", () => {
  const build = (...paths: [Method, string][]) => () => new RouteTable(paths.map(([method, path]) => ({ method, path })));
  assert.throws(build(["GET", "/a/:x"], ["GET", "/a/:y"]), /declared twice/);
  assert.doesNotThrow(build(["GET", "/a/:x"], ["DELETE", "/a/:y"], ["WEBSOCKET", "/a/:z"]));
  assert.throws(build(["GET", "health"]), /must start with a slash/);
  assert.throws(build(["GET", "/health/"]), /not end with one/);
  assert.throws(build(["GET", "/a/:x/:x"]), /names the parameter x twice/);
  assert.throws(build(["GET", "/a/(.*)"]), /neither literal, :name nor \*name/);
  assert.throws(build(["GET", "/a/*rest/b"]), /before its last segment/);
  assert.throws(build(["GET", "/a/*x"], ["GET", "/a/*y"]), /declared twice/);
  assert.equal(new RouteTable([{ method: "GET", path: "/" }]).forRequest("GET", "/").route?.path, "/");
});
